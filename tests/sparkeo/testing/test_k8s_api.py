"""The test Kubernetes API server itself, over raw HTTP: Status bodies, media types, pagination,
seeding, and the operator loop's command line (what the other tests rely on it for)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from sparkapps.deployment import DeploymentSettings
from sparkapps.manifest import JobSpec, render
from sparkeo.testing.k8s_api.operator import LocalOperator
from sparkeo.testing.k8s_api.selectors import SelectorError, parse
from tests.shared_location import CHECKOUT

BASE = "/apis/sparkoperator.k8s.io/v1beta2/namespaces/sparkeo/sparkapplications"


def call(url, method="GET", body=None, ctype="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def manifest(name="j-1"):
    return render(JobSpec(job_id=name, user="u", graph_uri="g", output_uri="o"), DeploymentSettings())


@pytest.mark.parametrize("method, path, body, code, reason", [
    ("GET", "/j-none", None, 404, "NotFound"),
    ("DELETE", "/j-none", None, 404, "NotFound"),
    ("POST", "", {"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "metadata": {"name": "j-1"},
                  "spec": {"type": "Python"}}, 422, "Invalid"),
    ("POST", "", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}, 400, "BadRequest"),
    ("GET", "?labelSelector=a%20in%20", None, 400, "BadRequest"),
])
def test_errors_are_kubernetes_status_bodies(k8s_api, method, path, body, code, reason):
    status, doc = call(k8s_api.server.url + BASE + path, method, body)
    assert status == code
    assert doc["kind"] == "Status" and doc["status"] == "Failure" and doc["code"] == code and doc["reason"] == reason


def test_invalid_body_lists_its_causes(k8s_api):
    status, doc = call(k8s_api.server.url + BASE, "POST", {**manifest(), "spec": {"type": "Python"}})
    fields = {c["field"] for c in doc["details"]["causes"]}
    assert status == 422 and "spec" in fields  # required driver/executor/... are missing


def test_conflict_and_patch_media_type(k8s_api):
    url = k8s_api.server.url + BASE
    assert call(url, "POST", manifest())[0] == 201
    status, doc = call(url, "POST", manifest())
    assert (status, doc["reason"]) == (409, "AlreadyExists")
    assert call(url + "/j-1", "PATCH", {"spec": {"timeToLiveSeconds": 5}}, "application/json-patch+json")[0] == 415
    status, doc = call(url + "/j-1", "PATCH", {"spec": {"timeToLiveSeconds": 5}}, "application/merge-patch+json")
    assert status == 200 and doc["spec"]["timeToLiveSeconds"] == 5


def test_pagination_is_complete_and_ordered(k8s_api):
    k8s_api.store.seed("sparkeo", [(manifest(f"j-{i:03d}"), None) for i in range(25)])
    url, names, token = k8s_api.server.url + BASE + "?limit=7", [], None
    while True:
        status, doc = call(url + (f"&continue={token}" if token else ""))
        assert status == 200 and doc["kind"] == "SparkApplicationList" and len(doc["items"]) <= 7
        names += [i["metadata"]["name"] for i in doc["items"]]
        token = doc["metadata"].get("continue")
        if not token:
            break
    assert names == [f"j-{i:03d}" for i in range(25)]


def test_seed_endpoint_keeps_the_given_status(k8s_api):
    body = [{"manifest": manifest("j-s"), "status": {"applicationState": {"state": "RUNNING"}, "driverInfo": {}}}]
    status, doc = call(k8s_api.server.url + "/_test/seed/sparkeo", "POST", body)
    assert (status, doc) == (201, {"seeded": 1})
    assert k8s_api.store.get("sparkeo", "j-s")["status"]["applicationState"]["state"] == "RUNNING"


@pytest.mark.parametrize("selector", ["a in (", "a b c", "=x"])
def test_bad_selectors_are_rejected(selector):
    with pytest.raises(SelectorError):
        parse(selector)


def test_operator_command_maps_the_image_paths(k8s_api, tmp_path):
    from pathlib import Path

    repo = CHECKOUT
    operator = LocalOperator(k8s_api.store, repo, tmp_path)
    app = manifest()
    app["spec"]["sparkConf"]["spark.kubernetes.executor.deleteOnTermination"] = "false"
    cmd = operator.command(app)
    assert cmd[1:5] == ["--master", "local[2]", "--name", "j-1"]
    assert str(repo / "jobs" / "main.py") in cmd
    assert not any(c.startswith("spark.kubernetes.") for c in cmd)
    assert cmd[cmd.index(str(repo / "jobs" / "main.py")) + 1:] == app["spec"]["arguments"]


def test_driver_pod_logs_are_served_until_the_application_is_deleted(k8s_api, tmp_path):
    store, url = k8s_api.store, k8s_api.server.url
    store.create("sparkeo", manifest("j-logs"))
    log = tmp_path / "driver.log"
    log.write_text("line 1\nline 2\nline 3\n")
    store.pods.start("sparkeo", "j-logs", log)
    path = f"{url}/api/v1/namespaces/sparkeo/pods/j-logs-driver/log"
    with urllib.request.urlopen(path, timeout=10) as response:
        assert response.headers["Content-Type"] == "text/plain" and response.read() == b"line 1\nline 2\nline 3\n"
    with urllib.request.urlopen(path + "?tailLines=1", timeout=10) as response:
        assert response.read() == b"line 3\n"
    assert call(f"{url}/api/v1/namespaces/sparkeo/pods/j-other-driver/log") == (404, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 404,
        "message": 'pods "j-other-driver" not found', "reason": "NotFound",
        "details": {"kind": "pods", "name": "j-other-driver"}})
    store.delete("sparkeo", "j-logs")       # the driver pod goes with its owner
    assert call(path)[0] == 404
