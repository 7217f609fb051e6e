"""The Pod Security "restricted" profile (Kubernetes Pod Security Standards, v1.28+) on every pod sparkeo
runs: the rendered SparkApplication's driver and executors, and each workload of deploy/base.

The profile's rules, field by field: volumes of the allowed kinds only (no hostPath), no host
namespaces, ports or privileged containers, ``allowPrivilegeEscalation: false``, ``runAsNonRoot: true``
(pod or every container) and no user 0, seccomp ``RuntimeDefault``/``Localhost`` (pod or every
container), ``capabilities.drop: [ALL]`` with at most ``NET_BIND_SERVICE`` added.
"""
from __future__ import annotations

from typing import Any, Mapping

import pytest
import yaml

from sparkapps import deployment as deployments
from sparkapps.manifest import JobSpec, render
from tests.deploy.test_kustomize import RESOURCES, one

RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}
WORKLOADS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
JOB = JobSpec(job_id="j-psa", user="alice", graph_uri="s3://b/j-psa.job/g.json", output_uri="s3://b/j-psa")


def restricted_problems(pod: Mapping[str, Any]) -> list[str]:
    """What in a Kubernetes PodSpec the restricted profile refuses (empty: admitted)."""
    problems = []
    pod_ctx = pod.get("securityContext") or {}
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            problems.append(f"volume {volume['name']}: {sorted(kinds - RESTRICTED_VOLUMES)}")
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            problems.append(host)
    if pod_ctx.get("runAsUser") == 0:
        problems.append("pod runAsUser 0")
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    for c in containers:
        ctx, name = c.get("securityContext") or {}, c.get("name", "?")
        if ctx.get("privileged"):
            problems.append(f"{name}: privileged")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation not false")
        if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot not true")
        if ctx.get("runAsUser") == 0:
            problems.append(f"{name}: runAsUser 0")
        seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile {seccomp!r}")
        caps = ctx.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{name}: capabilities not dropped")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: capabilities added {caps['add']}")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            problems.append(f"{name}: hostPort")
    return problems


def spark_pod(spec: Mapping[str, Any], role: str) -> dict[str, Any]:
    """The PodSpec the spark-operator makes of a SparkApplication's driver or executor section."""
    section = spec[role]
    return {"securityContext": section.get("podSecurityContext") or {}, "volumes": spec.get("volumes") or [],
            "hostNetwork": section.get("hostNetwork", False),
            "containers": [{"name": f"spark-kubernetes-{role}", "securityContext": section.get("securityContext")}],
            "initContainers": section.get("initContainers") or []}


def pod_template(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "Pod":
        return spec
    if doc["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec["template"]["spec"]


def base_settings():
    return deployments.from_mapping(yaml.safe_load(one("ConfigMap", "sparkeo-deployment")["data"]["deployment.yaml"]))


@pytest.mark.parametrize("role", ["driver", "executor"])
def test_rendered_spark_pods_are_restricted(role):
    spec = render(JOB, base_settings())["spec"]
    assert restricted_problems(spark_pod(spec, role)) == []
    assert spec[role]["coreLimit"] == str(spec[role]["cores"])


@pytest.mark.parametrize("doc", [d for d in RESOURCES if d["kind"] in WORKLOADS],
                         ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_deployed_workloads_are_restricted(doc):
    assert restricted_problems(pod_template(doc)) == []


def test_the_checker_refuses_what_the_old_manifest_had():
    """The manifest before hardening: a hostPath and no security context (baseline refuses the first)."""
    old = deployments.DeploymentSettings(eodata_host_path="/eodata", seccomp_profile=None)
    problems = restricted_problems(spark_pod(render(JOB, old)["spec"], "driver"))
    assert "volume eodata: ['hostPath']" in problems and any("seccompProfile" in p for p in problems)
    assert restricted_problems({"containers": [{"name": "c"}]}) == [
        "c: allowPrivilegeEscalation not false", "c: runAsNonRoot not true", "c: seccompProfile None",
        "c: capabilities not dropped"]


def test_the_eodata_claim_replaces_the_host_path():
    settings = base_settings().replace(eodata_claim="sparkeo-eodata")
    spec = render(JOB, settings)["spec"]
    assert {"name": "eodata", "persistentVolumeClaim": {"claimName": "sparkeo-eodata", "readOnly": True}} \
        in spec["volumes"]
    assert restricted_problems(spark_pod(spec, "driver")) == []
    with pytest.raises(Exception, match="eodata_host_path: null"):
        deployments.from_mapping({"eodata_host_path": "/eodata", "eodata_claim": "x"})


@pytest.mark.parametrize("kind, name", [("CronJob", "sparkeo-tracker"), ("Deployment", "sparkeo-api")])
def test_registry_clients_get_the_zookeeper_credentials_and_the_label_that_lets_them_in(kind, name):
    doc = one(kind, name)
    template = doc["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob" else doc["spec"]["template"]
    assert template["metadata"]["labels"]["sparkeo/registry-client"] == "true"
    env = {e["name"]: e for e in template["spec"]["containers"][0]["env"]}
    assert env["SPARKEO_ZOOKEEPER_AUTH"]["valueFrom"]["secretKeyRef"] == {"name": "sparkeo-zookeeper",
                                                                         "key": "credentials"}


def test_zookeeper_credentials_come_from_a_secret_and_only_registry_clients_reach_it():
    zk = pod_template(one("StatefulSet", "zookeeper"))
    zk_env = {e["name"]: e for e in zk["containers"][0]["env"]}
    assert zk_env["ZK_SUPER_DIGEST"]["valueFrom"]["secretKeyRef"]["name"] == "sparkeo-zookeeper"
    assert "$(ZK_SUPER_DIGEST)" in zk_env["JVMFLAGS"]["value"]
    policy = one("NetworkPolicy", "zookeeper")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "zookeeper"}
    client_labels = policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    for doc in (one("CronJob", "sparkeo-tracker"), one("StatefulSet", "zookeeper")):
        template = doc["spec"]["jobTemplate"]["spec"]["template"] if doc["kind"] == "CronJob" else doc["spec"]["template"]
        assert client_labels.items() <= template["metadata"]["labels"].items()


def test_the_pushgateway_is_configured_once_for_tracker_and_drivers():
    url = one("ConfigMap", "sparkeo-monitoring")["data"]["SPARKEO_PUSHGATEWAY"]
    assert url.startswith("http://")
    tracker = pod_template(one("CronJob", "sparkeo-tracker"))["containers"][0]
    assert {"configMapRef": {"name": "sparkeo-monitoring"}} in tracker["envFrom"]
    assert "SPARKEO_PUSHGATEWAY" not in {e["name"] for e in tracker["env"]}
    driver = render(JOB, base_settings())["spec"]["driver"]
    assert driver["envFrom"] == [{"configMapRef": {"name": "sparkeo-monitoring", "optional": True}}]
