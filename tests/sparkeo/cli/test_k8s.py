"""``sparkeo render | submit | status | list | cancel`` against the test Kubernetes API, and the
end-to-end run: submit -> the operator loop runs the driver with spark-submit -> COMPLETED/FAILED."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sparkapps import validate
from sparkeo.cli.main import cli
from tests.shared_location import CHECKOUT

REPO = CHECKOUT
DEMO = REPO / "examples" / "ndvi_median.json"
NS = "sparkeo"
ADD = {"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}}}


@pytest.fixture
def graph(tmp_path) -> str:
    path = tmp_path / "graph.json"
    path.write_text(json.dumps({**ADD, "job_options": {"executor-cores": 3}}))
    return str(path)


def sparkeo(*args, user="alice"):
    result = CliRunner().invoke(cli, ["--user", user, *args], catch_exceptions=False)
    return result


def test_render_prints_a_valid_manifest(graph, shared_dir, tmp_path):
    result = sparkeo("render", graph, "--job-id", "j-render", "--output", str(tmp_path / "out"),
                     "--job-options", '{"executor-memory": "6g", "soft_errors": true}')
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    schema = validate.load_schema(str(shared_dir / "spec/spark-operator/sparkoperator.k8s.io_sparkapplications.yaml"))
    assert validate.problems(doc, schema) == []
    assert doc["metadata"]["name"] == "j-render" and doc["metadata"]["labels"]["sparkeo/user"] == "alice"
    # options from the graph document and from --job-options both apply
    assert doc["spec"]["executor"]["cores"] == 3 and doc["spec"]["executor"]["memory"] == "6g"
    args = doc["spec"]["arguments"]
    assert json.loads(args[args.index("--job-options") + 1]) == {"soft_errors": True}
    assert args[args.index("--graph") + 1] == str(tmp_path / "out.job" / "process_graph.json")
    assert "upload" in result.stderr  # render writes nothing: it says where the graph must go


def test_render_uses_the_deployment_config(graph, tmp_path):
    config = tmp_path / "deploy.yaml"
    config.write_text("image: registry.example/sparkeo:9\nnamespace: eo\ninstances: 2\n")
    doc = yaml.safe_load(sparkeo("render", graph, "--job-id", "j-1", "--config", str(config)).stdout)
    assert doc["spec"]["image"] == "registry.example/sparkeo:9" and doc["metadata"]["namespace"] == "eo"
    assert doc["spec"]["executor"]["instances"] == 2
    assert doc["spec"]["arguments"][doc["spec"]["arguments"].index("--output") + 1] == "s3://sparkeo-results/jobs/j-1"


@pytest.mark.parametrize("command", ["render", "submit"])
def test_help_says_where_cluster_results_go(command):
    text = " ".join(sparkeo(command, "--help").stdout.split())
    assert "./results" not in text and "s3://sparkeo-results/jobs/<job_id>" in text
    assert "./results/<job_id>/" in " ".join(sparkeo("run", "--help").stdout.split())


def test_render_refuses_a_local_catalog_from_the_environment(graph, monkeypatch, tmp_path):
    monkeypatch.delenv("SPARKEO_HOST_PATHS", raising=False)
    monkeypatch.setenv("SPARKEO_CATALOG", str(tmp_path / "layercatalog.json"))
    result = sparkeo("render", graph, "--job-id", "j-local")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "invalid SPARKEO_CATALOG" in result.stderr and "cluster's pods cannot read" in result.stderr
    ok = sparkeo("render", graph, "--job-id", "j-s3", "--catalog", "s3://cats/layercatalog.json")
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("args, text", [
    (["--job-id", "Bad_Id"], "invalid job id 'Bad_Id'"),
    (["--job-options", '{"executor-memory": "1t"}'], "job option 'executor-memory' = '1t': exceeds the maximum 32g"),
    (["--job-options", "{nope"], "--job-options"),
])
def test_render_refuses_bad_input_with_exit_2(graph, args, text):
    result = sparkeo("render", graph, *args)
    assert result.exit_code == 2 and text in result.stderr and "Traceback" not in result.output


def test_render_names_the_bad_node(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"process_graph": {"n1": {"process_id": "no_such_process", "arguments": {}, "result": True}}}))
    result = sparkeo("render", str(path))
    assert result.exit_code == 2 and "n1" in result.stderr and "no_such_process" in result.stderr


def test_submit_status_list_cancel(k8s_api, graph, tmp_path):
    out = str(tmp_path / "results" / "j-cli")
    result = sparkeo("submit", graph, "--job-id", "j-cli", "--output", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "j-cli"
    assert json.loads((tmp_path / "results" / "j-cli.job" / "process_graph.json").read_text())["process_graph"] == ADD["process_graph"]
    # idempotent: same id, no second application
    again = sparkeo("submit", graph, "--job-id", "j-cli", "--output", out)
    assert again.exit_code == 0 and again.stdout.strip() == "j-cli" and "exists already" in again.stderr
    assert k8s_api.store.names(NS) == ["j-cli"]

    sparkeo("submit", graph, "--job-id", "j-bob", "--output", str(tmp_path / "j-bob"), user="bob")
    status = sparkeo("status", "j-cli")
    assert status.exit_code == 0 and status.stdout.startswith("j-cli: NEW")
    k8s_api.store.set_status(NS, "j-cli", {"applicationState": {"state": "FAILED", "errorMessage": "boom"},
                                           "driverInfo": {}})
    as_json = json.loads(sparkeo("status", "j-cli", "--json").stdout)
    assert as_json["state"] == "FAILED" and as_json["error_message"] == "boom" and as_json["user"] == "alice"

    mine = sparkeo("list").stdout.splitlines()
    assert [line.split("\t")[:3] for line in mine] == [["j-cli", "FAILED", "alice"]]
    everyone = json.loads(sparkeo("list", "--all-users", "--json").stdout)
    assert {s["job_id"] for s in everyone} == {"j-cli", "j-bob"}

    cancel = sparkeo("cancel", "j-cli")
    assert cancel.exit_code == 0 and "canceled (was FAILED)" in cancel.stdout
    assert k8s_api.store.names(NS) == ["j-bob"]
    gone = sparkeo("status", "j-cli")
    assert gone.exit_code == 2 and "sparkeo/j-cli: not found" in gone.stderr
    assert sparkeo("cancel", "j-cli").exit_code == 2


def test_submit_refuses_an_invalid_graph_before_anything_is_sent(k8s_api, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1}, "result": True}}}))
    result = sparkeo("submit", str(path), "--job-id", "j-bad", "--output", str(tmp_path / "out"))
    assert result.exit_code == 2 and "'a'" in result.stderr
    assert k8s_api.store.requests == [] and not (tmp_path / "out.job").exists()


def test_submit_with_no_reachable_api_exits_1(graph, tmp_path, unreachable_kubeconfig):
    result = sparkeo("submit", graph, "--job-id", "j-1", "--output", str(tmp_path / "o"),
                     "--kubeconfig", str(unreachable_kubeconfig))
    assert result.exit_code == 1 and "unreachable" in result.stderr and "Traceback" not in result.output


# --- end to end: the CLI as a subprocess, the operator loop running the driver --------------------

@pytest.fixture(scope="module")
def demo_catalog(tmp_path_factory) -> str:
    """The sample catalog ``sparkeo sample-data`` writes (the demo graph's extent needs the 512 px one)."""
    from layercatalog.sample import write_sample

    return write_sample(str(tmp_path_factory.mktemp("demo-sample")))


@pytest.fixture
def s3_secret(k8s_api):
    """``kubectl create secret generic sparkeo-s3 ...``: the pods' env refers to it."""
    k8s_api.store.secrets[(NS, "sparkeo-s3")] = {"AWS_ACCESS_KEY_ID": "key-id", "AWS_SECRET_ACCESS_KEY": "secret"}


def submit_cli(kubeconfig: Path, *args) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sparkeo.cli.main", "--user", "alice", "submit", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    return proc, time.monotonic() - started


@pytest.mark.slow
def test_end_to_end_demo_job_completes_with_results(k8s_api, s3_secret, k8s_operator, demo_catalog, tmp_path):
    out = tmp_path / "results" / "demo-ndvi"
    proc, _ = submit_cli(k8s_api.kubeconfig, str(DEMO), "--catalog", demo_catalog,
                                      "--output", str(out), "--job-id", "demo-ndvi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "demo-ndvi"
    app = k8s_operator.wait_for(NS, "demo-ndvi", timeout=600)
    state = app["status"]["applicationState"]
    assert state["state"] == "COMPLETED", state.get("errorMessage")
    assert app["status"]["sparkApplicationId"].startswith("local-") and app["status"]["terminationTime"]
    # the results are complete: the STAC document is written last
    collection = json.loads((out / "collection.json").read_text())
    assert collection["id"] == "demo-ndvi" or collection.get("assets") or collection.get("links")
    assert any(p.suffix == ".tif" for p in out.iterdir())
    assert json.loads((out / "job_metadata.json").read_text())
    # what the operator ran: the manifest's file (mapped to the checkout), arguments and sparkConf
    command = k8s_operator.runs[-1]["command"]
    assert command[command.index("--master") + 1] == "local[2]"
    assert str(REPO / "jobs" / "main.py") in command
    assert "spark.metrics.namespace=sparkeo.job" in command


@pytest.mark.slow
def test_end_to_end_runtime_failure_reports_the_error(k8s_api, s3_secret, k8s_operator, demo_catalog, tmp_path,
                                                     monkeypatch):
    """The graph is valid and plans (catalog metadata is fine), but the pixels are unreadable."""
    monkeypatch.setenv("SPARKEO_READ_RETRIES", "0")  # the drivers inherit it: fail fast, twice
    broken = tmp_path / "broken"
    shutil.copytree(Path(demo_catalog).parent, broken)
    for tif in broken.rglob("*B04*.tif"):
        tif.write_bytes(b"not a tiff")
    config = tmp_path / "deploy.yaml"
    config.write_text("restart_policy: {type: Never}\n")
    proc, _ = submit_cli(k8s_api.kubeconfig, str(DEMO), "--catalog", str(broken / "layercatalog.json"),
                         "--output", str(tmp_path / "out"), "--job-id", "demo-broken", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    app = k8s_operator.wait_for(NS, "demo-broken", timeout=900)
    state = app["status"]["applicationState"]
    assert state["state"] == "FAILED"
    assert "exit code 1" in state["errorMessage"] and "B04" in state["errorMessage"]
    assert not (tmp_path / "out" / "collection.json").exists()
    assert app["status"]["executionAttempts"] == 1


@pytest.mark.slow
def test_end_to_end_failed_driver_is_retried_as_the_restart_policy_says(k8s_api, s3_secret, k8s_operator,
                                                                      graph, tmp_path):
    """Without --catalog the driver looks for the cluster's catalog ConfigMap mount, which this machine
    lacks: it exits 2 right after reading the graph from the job's inputs location (a retry must
    still find the graph there: the error names the catalog, not the graph)."""
    config = tmp_path / "deploy.yaml"
    config.write_text("restart_policy: {type: OnFailure, on_failure_retries: 1, on_failure_retry_interval: 1}\n")
    proc, _ = submit_cli(k8s_api.kubeconfig, graph, "--output", str(tmp_path / "out"),
                         "--job-id", "j-retry", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    seen = set()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        app = k8s_api.store.get(NS, "j-retry")
        state = app.get("status", {}).get("applicationState", {}).get("state")
        seen.add(state)
        if state == "FAILED":
            break
        time.sleep(0.05)
    assert {"FAILING", "FAILED"} <= seen
    assert app["status"]["executionAttempts"] == 2
    assert "exit code 2" in app["status"]["applicationState"]["errorMessage"]
    assert "/opt/sparkeo/catalog/layercatalog.json: no such file" in app["status"]["applicationState"]["errorMessage"]
    assert [r["exit"] for r in k8s_operator.runs if r["name"] == "j-retry"] == [2, 2]


def test_a_missing_secret_fails_the_driver_like_the_kubelet_would(k8s_api, k8s_operator, graph, tmp_path):
    result = sparkeo("submit", graph, "--job-id", "j-nosecret", "--output", str(tmp_path / "o"))
    assert result.exit_code == 0
    state = k8s_operator.wait_for(NS, "j-nosecret", timeout=60)["status"]["applicationState"]
    assert state == {"state": "FAILED",
                     "errorMessage": 'driver container failed to start: secret "sparkeo-s3" key "AWS_ACCESS_KEY_ID" not found'}
