"""The SparkApplication of a job: valid for operator 2.x and 1.3.x, nothing pruned, no literal secrets."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sparkapps import validate
from sparkapps.deployment import DeploymentSettings, OptionBounds, PodResources
from sparkapps.errors import JobOptionError
from sparkapps.manifest import JobSpec, render
from tests.shared_location import CHECKOUT

CRD_2X = "spec/spark-operator/sparkoperator.k8s.io_sparkapplications.yaml"
CRD_138 = "spec/spark-operator/legacy-v1beta2-1.3.8/sparkoperator.k8s.io_sparkapplications.yaml"
JOB = JobSpec(job_id="j-ndvi-1", user="alice@example.org", groups=("eo", "admins"),
              graph_uri="s3://results/j-ndvi-1.job/process_graph.json", output_uri="s3://results/j-ndvi-1",
              job_options={"executor-memory": "6g", "soft_errors": 0.05})
SECRET_VALUE = "do-not-leak-this"

DEPLOYMENTS = {
    "defaults": DeploymentSettings(),
    "static-tolerations": DeploymentSettings(
        instances=4, node_selector={"pool": "spark"}, s3_endpoint="https://s3.example", aws_region="eu-1",
        tolerations=({"key": "spark", "operator": "Exists", "effect": "NoSchedule"},),
        restart_policy=DeploymentSettings().restart_policy.__class__(type="Never"), time_to_live_seconds=None),
    "bare": DeploymentSettings(s3_secret=None, eodata_host_path=None, catalog_configmap=None, monitoring=False,
                               driver=PodResources(1, "1g", None), executor=PodResources(1, "1g", None)),
}


def crd_schema(shared_dir, rel):
    return validate.load_schema(str(shared_dir / rel))


@pytest.mark.parametrize("crd", [CRD_2X, CRD_138], ids=["operator-2.5.2", "operator-1.3.8"])
@pytest.mark.parametrize("name", DEPLOYMENTS, ids=list(DEPLOYMENTS))
def test_manifest_validates_against_the_crd_and_loses_nothing_to_pruning(shared_dir, crd, name):
    deployment = DEPLOYMENTS[name]
    if crd == CRD_138:      # its CRD predates seccompProfile: deployments for it turn it off
        deployment = deployment.replace(seccomp_profile=None)
    manifest = render(JOB, deployment)
    schema = crd_schema(shared_dir, crd)
    assert validate.schema_errors(manifest, schema) == []
    assert validate.pruned_fields(manifest, schema) == []


def test_job_fields_reach_the_driver_command_line():
    spec = render(JOB, DeploymentSettings())["spec"]
    args = spec["arguments"]
    pairs = dict(zip(args[::2], args[1::2]))
    assert spec["mainApplicationFile"] == "local:///opt/sparkeo/jobs/main.py"
    assert pairs["--graph"] == JOB.graph_uri and pairs["--output"] == JOB.output_uri
    assert pairs["--job-id"] == "j-ndvi-1" and pairs["--user"] == "alice@example.org"
    assert pairs["--groups"] == "admins,eo"
    assert pairs["--catalog"] == "/opt/sparkeo/catalog/layercatalog.json"  # the ConfigMap mount
    # resource options are consumed by the manifest, the rest is the engine's
    assert json.loads(pairs["--job-options"]) == {"soft_errors": 0.05}
    assert spec["executor"]["memory"] == "6g"


def test_explicit_catalog_wins_over_the_configmap():
    job = JobSpec(job_id="j-1", user="u", graph_uri="g", output_uri="o", catalog_uri="s3://cat/layercatalog.json")
    args = render(job, DeploymentSettings())["spec"]["arguments"]
    assert args[args.index("--catalog") + 1] == "s3://cat/layercatalog.json"
    assert "--job-options" not in args and "--groups" not in args


def test_labels_and_annotations():
    meta = render(JOB, DeploymentSettings())["metadata"]
    assert meta["name"] == "j-ndvi-1" and meta["namespace"] == "sparkeo"
    assert meta["labels"]["sparkeo/job-id"] == "j-ndvi-1"
    assert meta["labels"]["sparkeo/user"].startswith("alice-example.org-")
    assert meta["annotations"]["sparkeo/user"] == "alice@example.org"
    spec = render(JOB, DeploymentSettings())["spec"]
    assert spec["driver"]["labels"] == spec["executor"]["labels"] == meta["labels"]


def test_credentials_come_only_from_secret_references():
    d = DeploymentSettings(s3_secret="eo-s3", s3_endpoint="https://s3.example")
    manifest = render(JOB, d)
    for role in ("driver", "executor"):
        env = {e["name"]: e for e in manifest["spec"][role]["env"]}
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert "value" not in env[var]
            assert env[var]["valueFrom"]["secretKeyRef"]["name"] == "eo-s3"
        assert env["AWS_ENDPOINT_URL"]["value"] == "https://s3.example"
    text = yaml.safe_dump(manifest)
    assert "secretAccessKey" not in text and SECRET_VALUE not in text


def test_volumes_for_eodata_and_the_catalog():
    spec = render(JOB, DeploymentSettings())["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["eodata"]["hostPath"] == {"path": "/eodata", "type": "Directory"}
    assert volumes["layercatalog"]["configMap"] == {"name": "sparkeo-layercatalog"}
    for role in ("driver", "executor"):
        mounts = {m["name"]: m for m in spec[role]["volumeMounts"]}
        assert mounts["eodata"]["mountPath"] == "/eodata" and mounts["eodata"]["readOnly"]
        assert mounts["layercatalog"]["mountPath"] == "/opt/sparkeo/catalog"


def test_monitoring_is_on_by_default_with_the_jmx_exporter():
    spec = render(JOB, DeploymentSettings())["spec"]
    assert spec["monitoring"] == {
        "exposeDriverMetrics": True, "exposeExecutorMetrics": True,
        "prometheus": {"jmxExporterJar": "/opt/spark/jars/jmx_prometheus_javaagent.jar", "port": 8090},
    }
    assert "monitoring" not in render(JOB, DeploymentSettings(monitoring=False))["spec"]


def test_metrics_conf_agrees_with_the_driver_session():
    from jobs.spark.session import METRICS_CONF

    conf = render(JOB, DeploymentSettings())["spec"]["sparkConf"]
    assert conf["spark.metrics.namespace"] == METRICS_CONF["spark.metrics.namespace"]
    for key, value in conf.items():
        if key.startswith("spark.metrics.") or key.startswith("spark.ui.prometheus"):
            assert METRICS_CONF[key] == value, key


def test_dynamic_allocation_or_static_instances():
    spec = render(JOB, DeploymentSettings(dynamic_min_executors=1, dynamic_max_executors=8))["spec"]
    assert spec["dynamicAllocation"] == {"enabled": True, "initialExecutors": 1, "minExecutors": 1, "maxExecutors": 8}
    assert spec["sparkConf"]["spark.dynamicAllocation.shuffleTracking.enabled"] == "true"
    assert "instances" not in spec["executor"]
    spec = render(JOB, DeploymentSettings(instances=3))["spec"]
    assert spec["executor"]["instances"] == 3 and "dynamicAllocation" not in spec


def test_restart_policy_and_ttl():
    spec = render(JOB, DeploymentSettings())["spec"]
    assert spec["restartPolicy"] == {"type": "OnFailure", "onFailureRetries": 2, "onFailureRetryInterval": 30,
                                     "onSubmissionFailureRetries": 3, "onSubmissionFailureRetryInterval": 20}
    assert spec["timeToLiveSeconds"] == 86400


def test_render_is_pure_and_deterministic():
    d = DeploymentSettings()
    assert render(JOB, d) == render(JOB, d)
    assert d == DeploymentSettings()


def test_out_of_bounds_option_is_refused_before_any_manifest():
    d = DeploymentSettings(bounds=OptionBounds(executor_memory=("1g", "4g")))
    with pytest.raises(JobOptionError, match="exceeds the maximum 4g"):
        render(JOB, d)


def test_job_spec_checks_the_job_id():
    from sparkapps.errors import InvalidJobId

    with pytest.raises(InvalidJobId):
        JobSpec(job_id="Bad_Id", user="u", graph_uri="g", output_uri="o")


def test_driver_serves_job_progress_metrics_and_knows_its_submit_time():
    import dataclasses

    from jobs.main import parse_args

    job = dataclasses.replace(JOB, submitted_at="2026-11-23T05:00:00Z")
    spec = render(job, DeploymentSettings())["spec"]
    driver_env = {e["name"]: e.get("value") for e in spec["driver"]["env"]}
    assert driver_env["SPARKEO_METRICS_PORT"] == "8091"
    assert "SPARKEO_METRICS_PORT" not in {e["name"] for e in spec["executor"].get("env", [])}
    # the rendered arguments are exactly what the driver entry point parses
    args = parse_args(spec["arguments"])
    assert args.submitted_at == 1795410000.0 and args.job_id == "j-ndvi-1"
    off = render(JOB, DeploymentSettings(job_metrics_port=None))["spec"]
    assert "SPARKEO_METRICS_PORT" not in {e["name"] for e in off["driver"].get("env", [])}
    assert "--submitted-at" not in off["arguments"]


@pytest.mark.parametrize("crd", [CRD_2X, CRD_138], ids=["operator-2.5.2", "operator-1.3.8"])
def test_session_token_reaches_the_pods_by_optional_secret_reference(shared_dir, crd, tmp_path):
    from sparkeo.testing.k8s_api.operator import LocalOperator
    from sparkeo.testing.k8s_api.store import Store

    manifest = render(JOB, DeploymentSettings(s3_secret="eo-s3", seccomp_profile=None if crd == CRD_138 else "RuntimeDefault"))
    for role in ("driver", "executor"):
        env = {e["name"]: e for e in manifest["spec"][role]["env"]}
        assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"] == {
            "name": "eo-s3", "key": "AWS_SESSION_TOKEN", "optional": True}
    schema = crd_schema(shared_dir, crd)
    assert validate.schema_errors(manifest, schema) == [] and validate.pruned_fields(manifest, schema) == []
    # resolved like the kubelet does: set when the Secret has the key, left unset (not a failure) otherwise
    store = Store(shared_dir / CRD_2X)
    operator = LocalOperator(store, CHECKOUT, tmp_path)
    keys = {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
    store.secrets[("sparkeo", "eo-s3")] = {**keys, "AWS_SESSION_TOKEN": "token"}
    assert operator.pod_env(manifest)["AWS_SESSION_TOKEN"] == "token"
    store.secrets[("sparkeo", "eo-s3")] = keys
    assert "AWS_SESSION_TOKEN" not in operator.pod_env(manifest)
