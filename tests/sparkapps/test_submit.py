"""submit/status/cancel: validate, store the job's inputs, create the application once."""
from __future__ import annotations

import dataclasses
import json
import threading

import pytest

from sparkapps import submit as submitting
from sparkapps.deployment import DeploymentSettings, OptionBounds
from sparkapps.errors import JobOptionError, SparkAppInvalid, SparkAppNotFound
from sparkapps.manifest import JobSpec, render
from sparkeo import storage

GRAPH = {"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}}}


def job_at(output: str, job_id="j-1", **kw) -> JobSpec:
    return JobSpec(job_id=job_id, user="alice", groups=("eo",), graph_uri=submitting.graph_location(output),
                   output_uri=output, **kw)


def test_submit_stores_inputs_and_creates_the_application(k8s_api, tmp_path):
    api = k8s_api.client()
    job = job_at(str(tmp_path / "results" / "j-1"), job_options={"soft_errors": True})
    calls = []
    done = submitting.submit(api, job, DeploymentSettings(), graph=GRAPH, on_submitted=lambda j, a: calls.append((j, a)))
    assert done.created and done.app["metadata"]["name"] == "j-1"
    inputs = tmp_path / "results" / "j-1.job"
    assert json.loads((inputs / "process_graph.json").read_text()) == GRAPH
    assert json.loads((inputs / "job_spec.json").read_text()) == job.to_json()
    assert job.to_json()["graph"] == str(inputs / "process_graph.json")
    assert calls == [(job, done.app)]
    # the stored application is what render produced: nothing lost to the server's pruning
    stored = k8s_api.store.get("sparkeo", "j-1")
    assert stored["spec"] == render(job, DeploymentSettings())["spec"]


def test_submitting_the_same_job_id_twice_creates_one_application(k8s_api, tmp_path):
    api = k8s_api.client()
    job = job_at(str(tmp_path / "j-1"))
    first = submitting.submit(api, job, DeploymentSettings(), graph=GRAPH)
    calls = []
    again = submitting.submit(api, dataclasses.replace(job, job_options={"soft_errors": 0.5}), DeploymentSettings(),
                              graph={"other": 1}, on_submitted=lambda j, a: calls.append(j))
    assert first.created and not again.created and calls == []
    assert again.app["metadata"]["uid"] == first.app["metadata"]["uid"]
    assert k8s_api.store.names("sparkeo") == ["j-1"]
    # the first submission's graph stays: a running job's inputs are never overwritten
    assert json.loads((tmp_path / "j-1.job" / "process_graph.json").read_text()) == GRAPH


def test_concurrent_submits_of_one_job_id_agree(k8s_api, tmp_path):
    api = k8s_api.client()
    job = job_at(str(tmp_path / "j-1"))
    results = []
    threads = [threading.Thread(target=lambda: results.append(submitting.submit(api, job, DeploymentSettings())))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.created for r in results) == 1
    assert {r.app["metadata"]["uid"] for r in results} == {results[0].app["metadata"]["uid"]}


@pytest.mark.parametrize("make_bad", [
    lambda d: (d.replace(bounds=OptionBounds(executor_memory=("1g", "2g"))), {"executor-memory": "3g"}, JobOptionError),
    lambda d: (d.replace(spark_version=4), {}, SparkAppInvalid),
], ids=["option-out-of-bounds", "schema-violation"])
def test_nothing_is_written_or_sent_when_the_manifest_is_bad(k8s_api, tmp_path, make_bad):
    deployment, options, error = make_bad(DeploymentSettings())
    job = job_at(str(tmp_path / "j-1"), job_options=options)
    with pytest.raises(error):
        submitting.submit(k8s_api.client(), job, deployment, graph=GRAPH)
    assert not (tmp_path / "j-1.job").exists()
    assert k8s_api.store.names("sparkeo") == [] and k8s_api.store.requests == []


def test_a_field_the_server_would_prune_is_refused_locally(k8s_api, tmp_path):
    deployment = DeploymentSettings(tolerations=({"key": "a", "operator": "Exists", "efect": "NoSchedule"},))
    with pytest.raises(SparkAppInvalid, match="spec/driver/tolerations/0/efect: unknown field"):
        submitting.submit(k8s_api.client(), job_at(str(tmp_path / "j-1")), deployment)
    assert k8s_api.store.requests == []


def test_status_and_cancel(k8s_api, tmp_path):
    api = k8s_api.client()
    submitting.submit(api, job_at(str(tmp_path / "j-1")), DeploymentSettings())
    k8s_api.store.set_status("sparkeo", "j-1", {"applicationState": {"state": "RUNNING"},
                                                "driverInfo": {"podName": "j-1-driver"}})
    state = submitting.status(api, "sparkeo", "j-1")
    assert (state.job_id, state.state, state.user, state.driver_pod) == ("j-1", "RUNNING", "alice", "j-1-driver")
    canceled = []
    last = submitting.cancel(api, "sparkeo", "j-1", on_canceled=lambda j, s: canceled.append((j, s.state)))
    assert last.state == "RUNNING" and canceled == [("j-1", "RUNNING")]
    assert k8s_api.store.names("sparkeo") == []
    with pytest.raises(SparkAppNotFound):
        submitting.cancel(api, "sparkeo", "j-1")
    with pytest.raises(SparkAppNotFound):
        submitting.status(api, "sparkeo", "j-1")


def test_inputs_go_to_s3_when_results_do(k8s_api, s3):
    output = s3.uri("jobs/j-s3")
    done = submitting.submit(k8s_api.client(), job_at(output, job_id="j-s3"), DeploymentSettings(), graph=GRAPH)
    assert done.created
    assert set(s3.objects("jobs/")) == {"jobs/j-s3.job/process_graph.json", "jobs/j-s3.job/job_spec.json"}
    assert json.loads(storage.read_text(s3.uri("jobs/j-s3.job/process_graph.json"))) == GRAPH


def test_inputs_location_is_outside_the_results_location():
    assert submitting.inputs_location("s3://b/jobs/j-1/") == "s3://b/jobs/j-1.job"
    assert not submitting.graph_location("/r/j-1").startswith("/r/j-1/")
    assert submitting.job_spec_location("s3://b/jobs/j-1") == "s3://b/jobs/j-1.job/job_spec.json"


def test_the_deployment_names_the_crd_to_validate_against(k8s_api, tmp_path, shared_dir):
    """An older operator (a CRD without timeToLiveSeconds): the field would be pruned, so submit refuses."""
    import yaml

    legacy = shared_dir / "spec/spark-operator/legacy-v1beta2-1.3.8/sparkoperator.k8s.io_sparkapplications.yaml"
    with pytest.raises(SparkAppInvalid, match="securityContext/seccompProfile: unknown field"):
        submitting.submit(k8s_api.client(), job_at(str(tmp_path / "j-1")), DeploymentSettings(crd=str(legacy)))
    legacy_settings = DeploymentSettings(crd=str(legacy), seccomp_profile=None)   # what operator 1.3.x needs
    ok = submitting.submit(k8s_api.client(), job_at(str(tmp_path / "j-1")), legacy_settings)
    assert ok.created
    crd = yaml.safe_load(legacy.read_text())
    del crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["timeToLiveSeconds"]
    older = tmp_path / "older-crd.yaml"
    older.write_text(yaml.safe_dump(crd))
    with pytest.raises(SparkAppInvalid, match="spec/timeToLiveSeconds: unknown field"):
        submitting.submit(k8s_api.client(), job_at(str(tmp_path / "j-2"), job_id="j-2"), legacy_settings.replace(crd=str(older)))
    assert submitting.submit(k8s_api.client(), job_at(str(tmp_path / "j-2"), job_id="j-2"),
                             legacy_settings.replace(crd=str(older), time_to_live_seconds=None)).created
