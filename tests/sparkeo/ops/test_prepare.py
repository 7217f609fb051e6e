"""``prepare_job`` called directly, as a front end other than the CLI would."""
from __future__ import annotations

import json

import pytest

from jobs.errors import ProcessGraphError
from sparkeo.errors import ConfigError
from sparkeo.identity import Caller
from sparkeo.names import InvalidJobId
from sparkeo.ops.prepare import GraphSource, prepare_job
from sparkeo.settings import Settings

ADD = {"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}},
       "job_options": {"executor-cores": 3}}
ALICE = Caller.from_values("alice", "eo,admins")


@pytest.fixture
def settings(monkeypatch) -> Settings:
    monkeypatch.delenv("SPARKEO_CATALOG", raising=False)
    return Settings.from_env()


def test_a_local_graph_is_uploaded_beside_the_results(settings, tmp_path):
    output = str(tmp_path / "out")
    prep = prepare_job(GraphSource.of(json.dumps(ADD), "graph.json"), ALICE, settings, output=output,
                       job_id="j-ops", job_options='{"soft_errors": true}')
    assert (prep.job.job_id, prep.job.user, prep.job.groups) == ("j-ops", "alice", ("admins", "eo"))
    assert prep.job.graph_uri == str(tmp_path / "out.job" / "process_graph.json") and prep.uploads_graph
    # options of the graph document and of the caller both apply, the caller's last
    assert prep.job.job_options == {"executor-cores": 3, "soft_errors": True}
    assert prep.graph_doc == ADD and prep.job.submitted_at is None
    assert not (tmp_path / "out.job").exists()         # preparing writes nothing


def test_a_graph_in_object_storage_is_read_there(settings):
    prep = prepare_job(GraphSource.of(json.dumps(ADD), "s3://bucket/graphs/add.json"), ALICE, settings,
                       job_id="j-s3", output="s3://bucket/results/j-s3")
    assert prep.job.graph_uri == "s3://bucket/graphs/add.json" and not prep.uploads_graph


def test_a_generated_job_id_names_the_default_results(settings):
    prep = prepare_job(GraphSource(json.dumps(ADD), "<stdin>"), ALICE, settings)
    assert prep.job.job_id.startswith("j-") and prep.job.output_uri.endswith("/" + prep.job.job_id)


@pytest.mark.parametrize("graph, kwargs, error, text", [
    (ADD, {"job_id": "Bad_Id"}, InvalidJobId, "invalid job id 'Bad_Id'"),
    ({"process_graph": {"n1": {"process_id": "nope", "arguments": {}, "result": True}}}, {}, ProcessGraphError, "n1"),
], ids=["job-id", "graph"])
def test_bad_input_is_a_user_error_before_anything_is_built(settings, graph, kwargs, error, text):
    with pytest.raises(error, match=text) as info:
        prepare_job(GraphSource(json.dumps(graph), "g.json"), ALICE, settings, **kwargs)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("given, env, allowed", [
    (None, None, True),                                           # the deployment's ConfigMap
    ("s3://catalogs/layercatalog.json", None, True),
    ("/opt/sparkeo/catalog/layercatalog.json", None, True),       # inside the ConfigMap's mount
    ("/home/me/layercatalog.json", None, False),
    (None, "/home/me/layercatalog.json", False),                  # SPARKEO_CATALOG on the laptop
], ids=["configmap", "s3", "mount", "local-flag", "local-env"])
def test_a_cluster_manifest_never_names_a_local_catalog(monkeypatch, given, env, allowed):
    monkeypatch.delenv("SPARKEO_HOST_PATHS", raising=False)
    if env:
        monkeypatch.setenv("SPARKEO_CATALOG", env)
    else:
        monkeypatch.delenv("SPARKEO_CATALOG", raising=False)

    def prepared():
        return prepare_job(GraphSource.of(json.dumps(ADD), "graph.json"), ALICE, Settings.from_env(),
                           job_id="j-cat", catalog=given, output="s3://bucket/results/j-cat")
    if allowed:
        assert prepared().job.catalog_uri == given
        return
    with pytest.raises(ConfigError) as info:
        prepared()
    message = str(info.value)
    assert info.value.exit_code == 2 and "/home/me/layercatalog.json" in message
    assert ("--catalog" if given else "SPARKEO_CATALOG") in message
    assert "cluster's pods cannot read" in message and "'sparkeo-layercatalog'" in message
    monkeypatch.setenv("SPARKEO_HOST_PATHS", "true")              # pods that see this machine's files
    assert prepared().job.catalog_uri == "/home/me/layercatalog.json"


def test_the_web_apis_read_policy_reaches_the_cluster_driver(settings):
    from sparkapps.deployment import DeploymentSettings
    from sparkapps.manifest import render
    from sparkeo.readpolicy import ReadPolicy

    web = settings.replace(user_reads=ReadPolicy(allow=("stac.internal",))).for_web_api(local=False, allow_udf=False)
    prep = prepare_job(GraphSource(json.dumps(ADD), "<stdin>"), ALICE, web, output="s3://bucket/results/j-web",
                       job_id="j-web")
    driver_env = {e["name"]: e.get("value") for e in render(prep.job, DeploymentSettings())["spec"]["driver"]["env"]}
    # the driver builds its Settings from its environment (jobs/main.py): the same restricted policy
    assert Settings.from_env({"SPARKEO_USER_READS": driver_env["SPARKEO_USER_READS"]}).user_reads == web.user_reads
    assert prep.job.to_json()["user_reads"] == "restricted;allow=stac.internal"
    # a user's own `sparkeo submit` leaves the deployment's default
    own = prepare_job(GraphSource(json.dumps(ADD), "<stdin>"), ALICE, settings, output="s3://b/r/j-own", job_id="j-own")
    own_env = render(own.job, DeploymentSettings())["spec"]["driver"].get("env", [])
    assert "SPARKEO_USER_READS" not in {e["name"] for e in own_env} and "user_reads" not in own.job.to_json()
