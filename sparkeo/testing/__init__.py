"""Real services started for tests and benchmarks: ZooKeeper, a moto S3 server, s3fs FUSE mounts and
a stand-in Kubernetes API server with an operator loop that runs ``spark-submit``.

``tests/fixtures`` wraps these in pytest fixtures and ``bench/`` starts them directly; no product
module imports this package (tests/test_architecture.py checks it), and it imports no domain package.
Nothing here imports pytest: a failure to start raises ``services.ServiceStartError``.
"""
