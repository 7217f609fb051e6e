"""Where jobs run: SparkApplication manifests, validation, submit/status/cancel on Kubernetes."""
