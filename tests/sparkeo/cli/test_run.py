"""``sparkeo run`` / ``sparkeo validate`` / the driver entry point: exit codes, messages, no
traceback, no results document on failure. Bad input is checked in-process (it fails before Spark);
two subprocess runs (each its own JVM) cover a real run and a failing asset end to end."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkeo.cli.main import cli
from tests.shared_location import CHECKOUT

ROOT = CHECKOUT
DEMO = ROOT / "examples" / "ndvi_median.json"
VENV_BIN = Path(sys.executable).parent


def demo_graph() -> dict:
    return json.loads(DEMO.read_text())


def edit(fn):
    g = demo_graph()
    fn(g["process_graph"])
    return json.dumps(g)


def set_arg(node, name, value):
    return lambda pg: pg[node]["arguments"].__setitem__(name, value)


def stac(url):
    """The demo's load_collection replaced by a load_stac of ``url``."""
    return lambda pg: pg.__setitem__("load", {"process_id": "load_stac", "arguments": {"url": url}})


def cycle(pg):
    pg["ndvi"]["arguments"]["data"] = {"from_node": "masked"}


BAD_INPUT = [
    ("malformed-json", '{"process_graph": {"load": ', ["invalid JSON", "line 1"]),
    ("unknown-process", edit(lambda pg: pg["ndvi"].__setitem__("process_id", "ndvix")), ["'ndvi'", "ndvix"]),
    ("missing-argument", edit(lambda pg: pg["ndvi"]["arguments"].pop("data")), ["'ndvi'", "'data'", "missing"]),
    ("unknown-collection", edit(set_arg("load", "id", "sentinel-9")), ["'load'", "'id'", "sentinel-9"]),
    ("unknown-band", edit(set_arg("load", "bands", ["B04", "B99"])), ["'load'", "'bands'", "B99"]),
    ("bbox-outside", edit(set_arg("load", "spatial_extent", {"west": 5, "south": 40, "east": 6, "north": 41})),
     ["'load'", "'spatial_extent'", "outside"]),
    ("empty-time-range", edit(set_arg("load", "temporal_extent", ["2023-06-01", "2023-06-01"])),
     ["'load'", "'temporal_extent'", "empty"]),
    ("no-items", edit(set_arg("load", "temporal_extent", ["2024-06-01", "2024-07-01"])),
     ["'load'", "sample-s2", "2024-06-01"]),
    ("cycle", edit(cycle), ["cycle", "ndvi", "masked"]),
    ("load-stac-missing", edit(stac("/nowhere/collection.json")), ["'load'", "'url'", "/nowhere/collection.json"]),
    # nothing listens on the discard port: the URL is unreachable
    ("load-stac-unreachable", edit(stac("http://127.0.0.1:9/stac/collection.json")),
     ["'load'", "'url'", "http://127.0.0.1:9/stac/collection.json"]),
]


@pytest.fixture
def env(tmp_path):
    return {"SPARKEO_CACHE": str(tmp_path / "cache"), "SPARKEO_TILE_SIZE": "64"}


@pytest.mark.parametrize("name,graph,needles", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_exits_2_naming_what_is_wrong(name, graph, needles, sample_small, tmp_path, env):
    out = tmp_path / "out"
    out.mkdir()
    (out / "collection.json").write_text("{}")     # whatever was there before
    result = CliRunner().invoke(cli, ["run", "-", "--catalog", sample_small, "--output", str(out)],
                                input=graph, env=env)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)        # a clean exit, not an escaped exception
    assert (out / "collection.json").read_text() == "{}"   # a refused run changes nothing there


def test_validate_prints_the_plan(sample_small, env):
    result = CliRunner().invoke(cli, ["validate", str(DEMO), "--catalog", sample_small, "--json"], env=env)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["grid"]["crs"] == "EPSG:32633" and plan["grid"]["shape"] == [128, 128]
    assert plan["tiles"] == 4 and plan["items"] == 8
    assert plan["input_pixels"] == 8 * 3 * 128 * 128 and plan["input_bytes"] == 8 * 128 * 128 * 5


def test_validate_refuses_a_budget_with_the_estimate(sample_small, env):
    result = CliRunner().invoke(cli, ["validate", str(DEMO), "--catalog", sample_small,
                                      "--job-options", '{"max_input_bytes": 1000}'], env=env)
    assert result.exit_code == 2
    assert "655,360" in result.output and "max_input_bytes=1,000" in result.output


@pytest.mark.parametrize("options,needle", [
    ('{"resampling": {"B04": "fancy"}}', "'fancy'"), ('{"soft_errors": 2}', "soft_errors"), ("{oops", "invalid JSON")])
def test_bad_job_options_exit_2(options, needle, sample_small, env):
    result = CliRunner().invoke(cli, ["run", str(DEMO), "--catalog", sample_small, "--job-options", options], env=env)
    assert result.exit_code == 2 and needle in result.output and "Traceback" not in result.output


def _run(cmd, env, cwd):
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_sparkeo_run_writes_results_and_prints_paths(sample_small, tmp_path, env):
    out = tmp_path / "demo"
    proc = _run([str(VENV_BIN / "sparkeo"), "run", str(DEMO), "--catalog", sample_small, "--output", str(out),
                 "--job-id", "demo-ndvi-median"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = proc.stdout.split()
    assert printed == [str(out / n) for n in ("result.tif", "job_metadata.json", "collection.json")]
    doc = json.loads((out / "collection.json").read_text())
    assert doc["id"] == "demo-ndvi-median" and list(doc["assets"]) == ["result"]


def test_driver_entry_point_refuses_a_job_id_that_is_not_a_kubernetes_name(tmp_path, env):
    """Checked first, before the catalog, the graph or Spark (no JVM starts)."""
    proc = _run([sys.executable, "-m", "jobs", "--graph", str(DEMO), "--output", str(tmp_path / "out"),
                 "--job-id", "../victim", "--catalog", str(tmp_path / "no-catalog.json")], env, ROOT)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines() == ["Error: invalid job id '../victim': must be lower-case letters, "
                                                "digits and '-', start with a letter and end alphanumeric"]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_driver_entry_point_fails_on_unreadable_asset_with_href(sample_small, tmp_path, env):
    copy = tmp_path / "sample"
    shutil.copytree(Path(sample_small).parent, copy)
    bad = sorted(copy.glob("sample-s2/*/B04.tif"))[5]
    bad.write_bytes(bad.read_bytes()[:400])
    graph = tmp_path / "graph.json"
    graph.write_text(DEMO.read_text())
    out = tmp_path / "out"
    proc = _run([sys.executable, "-m", "jobs", "--graph", str(graph), "--output", str(out), "--job-id", "bad-asset",
                 "--catalog", str(copy / "layercatalog.json")], env, ROOT)
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "unreadable asset" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (out / "collection.json").exists()
