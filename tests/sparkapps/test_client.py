"""The SparkApplication client against the test Kubernetes API server (real HTTP, real kubernetes client)."""
from __future__ import annotations

import copy

import pytest

from sparkapps import client as clients
from sparkapps.client import AppState, check_response
from sparkapps.deployment import DeploymentSettings
from sparkapps.errors import (KubernetesUnreachable, SparkAppConflict, SparkAppInvalid, SparkAppNotFound,
                              SubmitError)
from sparkapps.manifest import JobSpec, render
from sparkeo.errors import RunError, UserError

NS = "sparkeo"


def manifest(job_id, user="alice", **deploy):
    return render(JobSpec(job_id=job_id, user=user, graph_uri="g", output_uri="o"), DeploymentSettings(**deploy))


def status(state, error=None):
    app_state = {"state": state}
    if error:
        app_state["errorMessage"] = error
    return {"applicationState": app_state, "driverInfo": {"podName": "p"}}


def test_create_get_patch_delete_round_trip(k8s_api):
    api = k8s_api.client()
    sent = manifest("j-1")
    created = api.create(sent)
    assert created["spec"] == sent["spec"]
    meta = created["metadata"]
    assert meta["uid"] and meta["resourceVersion"] and meta["generation"] == 1 and meta["creationTimestamp"]
    assert api.get(NS, "j-1") == created
    patched = api.patch(NS, "j-1", {"metadata": {"labels": {"extra": "x"}}, "spec": {"timeToLiveSeconds": 60}})
    assert patched["metadata"]["labels"]["extra"] == "x" and patched["spec"]["timeToLiveSeconds"] == 60
    assert patched["metadata"]["generation"] == 2
    assert int(patched["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    # merge-patch: null deletes a key
    assert "extra" not in api.patch(NS, "j-1", {"metadata": {"labels": {"extra": None}}})["metadata"]["labels"]
    api.delete(NS, "j-1")
    with pytest.raises(SparkAppNotFound):
        api.get(NS, "j-1")


def test_statuses_map_to_error_classes(k8s_api):
    api = k8s_api.client()
    api.create(manifest("j-1"))
    with pytest.raises(SparkAppConflict, match="already exists"):
        api.create(manifest("j-1"))
    for call in (lambda: api.get(NS, "nope"), lambda: api.delete(NS, "nope"), lambda: api.patch(NS, "nope", {})):
        with pytest.raises(SparkAppNotFound) as err:
            call()
        assert err.value.exit_code == 2 and isinstance(err.value, UserError) and "sparkeo/nope" in str(err.value)
    bad = manifest("j-2")
    bad["spec"]["type"] = "Pyton"
    with pytest.raises(SparkAppInvalid, match="spec.type") as err:
        api.create(bad)
    assert isinstance(err.value, RunError)
    with pytest.raises(SparkAppInvalid):
        api.patch(NS, "j-1", {"spec": {"driver": {"cores": 0}}})


def test_check_response_is_the_one_mapping():
    class Fake(Exception):
        def __init__(self, status, body=None):
            self.status, self.body, self.reason = status, body, "reason"

    assert isinstance(check_response(Fake(404), "a", "n"), SparkAppNotFound)
    assert isinstance(check_response(Fake(409), "a", "n"), SparkAppConflict)
    assert isinstance(check_response(Fake(422, '{"message": "bad field"}'), "a", "n"), SparkAppInvalid)
    err = check_response(Fake(403, '{"message": "forbidden: no"}'), "a", "n")
    assert type(err) is SubmitError and "HTTP 403" in str(err) and "forbidden: no" in str(err)
    assert isinstance(check_response(ConnectionRefusedError("refused"), "a", "n"), KubernetesUnreachable)


def test_the_server_prunes_unknown_fields_like_a_real_api_server(k8s_api):
    api = k8s_api.client()
    sent = manifest("j-1")
    sent["spec"]["driver"]["memoryOverHead"] = "1g"
    created = api.create(sent)  # accepted: pruning is silent on a real cluster
    assert "memoryOverHead" not in created["spec"]["driver"]
    # ... which is why sparkeo checks it first (sparkapps.validate), see test_sparkapps_submit


def test_status_is_a_subresource(k8s_api):
    api = k8s_api.client()
    sent = manifest("j-1")
    sent["status"] = status("COMPLETED")
    assert "status" not in api.create(sent)
    api.patch(NS, "j-1", {"status": {"applicationState": {"state": "FAILED"}}})
    assert "status" not in api.get(NS, "j-1")


@pytest.mark.parametrize("selector, expected", [
    ("sparkeo/user=bob", {"j-1", "j-3"}),
    ("sparkeo/user==bob", {"j-1", "j-3"}),
    ("sparkeo/user!=bob", {"j-0", "j-2", "j-4"}),
    ("sparkeo/user in (bob, carol)", {"j-1", "j-3", "j-4"}),
    ("sparkeo/user notin (bob,carol)", {"j-0", "j-2"}),
    ("tier", {"j-4"}),
    ("!tier", {"j-0", "j-1", "j-2", "j-3"}),
    ("sparkeo/user in (alice),!tier", {"j-0", "j-2"}),
    ("app.kubernetes.io/managed-by=sparkeo,tier=gold", {"j-4"}),
])
def test_label_selectors(k8s_api, selector, expected):
    api = k8s_api.client()
    for i, user in enumerate(["alice", "bob", "alice", "bob", "carol"]):
        m = manifest(f"j-{i}", user)
        if i == 4:
            m["metadata"]["labels"]["tier"] = "gold"
        api.create(m)
    assert set(api.list_states(NS, selector)) == expected


def test_list_states_pages_through_everything_with_one_list_per_page(k8s_api):
    api = k8s_api.client()
    states = ["", "SUBMITTED", "RUNNING", "COMPLETED", "FAILED"]
    template = manifest("j-0")
    pairs = []
    for i in range(1234):
        m = copy.deepcopy(template)
        m["metadata"]["name"] = m["metadata"]["labels"]["sparkeo/job-id"] = f"j-{i:05d}"
        pairs.append((m, status(states[i % 5], "boom" if states[i % 5] == "FAILED" else None) if i % 5 else None))
    assert k8s_api.store.seed(NS, pairs) == 1234
    k8s_api.store.requests.clear()
    got = api.list_states(NS)
    assert len(got) == 1234
    assert got["j-00004"] == AppState(job_id="j-00004", namespace=NS, state="FAILED", error_message="boom",
                                      user="alice", driver_pod="p", created=got["j-00004"].created)
    assert got["j-00000"].state == "" and got["j-00002"].state == "RUNNING"
    pages = -(-1234 // clients.LIST_PAGE)
    assert k8s_api.store.requests == [("GET", f"/apis/sparkoperator.k8s.io/v1beta2/namespaces/{NS}/sparkapplications")] * pages
    # small pages give the same set
    assert {a["metadata"]["name"] for a in api.iter_apps(NS, page=100)} == set(got)


def test_other_namespaces_are_not_listed(k8s_api):
    api = k8s_api.client()
    api.create(manifest("j-1"))
    api.create(manifest("j-2", namespace="other"))
    assert set(api.list_states(NS)) == {"j-1"} and set(api.list_states("other")) == {"j-2"}


def test_unreachable_api_is_a_run_error(tmp_path, k8s_server):
    from sparkeo.testing.services import free_port

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(k8s_server.write_kubeconfig(tmp_path / "k").read_text().replace(
        str(k8s_server.port), str(free_port())))
    api = clients.connect(str(kubeconfig))
    api.api.api_client.configuration.retries = 0
    with pytest.raises(KubernetesUnreachable) as err:
        api.get(NS, "j-1")
    assert err.value.exit_code == 1 and "unreachable" in str(err.value)


def test_no_configuration_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(KubernetesUnreachable, match="no Kubernetes configuration"):
        clients.connect()


def test_in_cluster_configuration_is_used_in_a_pod(tmp_path, monkeypatch, k8s_server):
    """A pod has no kubeconfig: the service account token and the KUBERNETES_SERVICE_* variables."""
    from kubernetes.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("pod-token")
    ca.write_text("not used over http")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(k8s_server.port))
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    api = clients.connect()
    cfg = api.api.api_client.configuration
    assert cfg.host == f"https://127.0.0.1:{k8s_server.port}"
    assert "pod-token" in str(cfg.api_key)
