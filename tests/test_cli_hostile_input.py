"""Malformed and hostile input through the real command line, in-process: one line on stderr, exit 2
(or 1), never a traceback, nothing written outside the output location, and never Spark.

The first part pins the cases of issue 16 item 8; the second generates malformed graphs, job options,
layer catalogs and STAC items with hypothesis (every case is refused before Spark would start).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkeo.cli.main import cli
from tests.fixtures.catalogs import layer_entry, stac_item, write_layer_catalog, write_static_catalog, UTC

import datetime as dt

ROOT = Path(__file__).resolve().parent.parent
DEMO = json.loads((ROOT / "examples" / "ndvi_median.json").read_text())


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKEO_CACHE", str(tmp_path / "cache"))
    for var in ("SPARKEO_USER", "SPARKEO_GROUPS", "SPARKEO_CATALOG", "SPARKEO_METRICS_PORT"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def no_spark(monkeypatch):
    """A tripwire: every case here must be refused before a SparkSession is asked for."""
    import jobs.session

    def refuse(*args, **kwargs):
        raise AssertionError("malformed input reached Spark")
    monkeypatch.setattr(jobs.session, "spark_session", refuse)


def invoke(args, stdin=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=stdin)


def assert_refused(result, needles=(), codes=(2,)):
    """Exit code in ``codes``, exactly one line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code in codes, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)   # not an escaped exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr[:2000]
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def nested_callbacks(depth: int) -> str:
    """``apply`` inside ``apply`` ``depth`` times (RecursionError in jobs/graph.py before the fix); as text,
    because ``json.dumps`` itself cannot encode it."""
    open_level = ('{"a": {"process_id": "apply", "result": true, "arguments": {"data": {"from_parameter": "x"}, '
                  '"process": {"process_graph": ')
    inner = '{"x": {"process_id": "absolute", "arguments": {"x": {"from_parameter": "x"}}, "result": true}}'
    callbacks = open_level * depth + inner + "}}}}" * depth
    load = json.dumps(DEMO["process_graph"]["load"])
    return ('{"process_graph": {"load": ' + load + ', "a": {"process_id": "apply", "result": true, "arguments": '
            '{"data": {"from_node": "load"}, "process": {"process_graph": ' + callbacks + "}}}}}")


def with_load_crs(crs) -> dict:
    graph = copy.deepcopy(DEMO)
    graph["process_graph"]["load"]["arguments"]["spatial_extent"]["crs"] = crs
    return graph


GRAPH_FILES = {
    "json-100000-deep": ("[" * 100_000 + "]" * 100_000).encode(),
    "callbacks-400-deep": nested_callbacks(400).encode(),
    "not-utf8": b'{"process_graph": {"\xff\xfe": 1}}',
    "proj-error-crs": json.dumps(with_load_crs("+proj=longlat +a=1e308")).encode(),
}


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("name", list(GRAPH_FILES), ids=list(GRAPH_FILES))
def test_malformed_graph_files_exit_2_in_one_line(name, command, env, no_spark, sample_small, tmp_path):
    graph = tmp_path / "graph.json"
    graph.write_bytes(GRAPH_FILES[name])
    extra = ["--output", tmp_path / "out"] if command == "run" else []
    result = invoke([command, graph, "--catalog", sample_small, *extra])
    assert_refused(result, needles=[] if name == "proj-error-crs" else [str(graph)])


def test_graph_from_stdin_that_is_not_utf8(env, no_spark, sample_small, tmp_path):
    result = CliRunner().invoke(cli, ["validate", "-", "--catalog", sample_small], input=b"\xff\xfe{}")
    assert_refused(result, needles=["<stdin>", "UTF-8"])


def test_deeply_nested_job_options(env, no_spark, sample_small, tmp_path):
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps(DEMO))
    options = '{"a": ' * 50_000 + "1" + "}" * 50_000
    result = invoke(["run", graph, "--catalog", sample_small, "--output", tmp_path / "out", "--job-options", options])
    assert_refused(result, needles=["--job-options", "nested"])
    assert len(result.stderr) < 400       # the option's text is quoted clipped, not 100,000 characters


def broken_stac(tmp_path, name: str, change) -> str:
    """A layer catalog over a static STAC catalog whose second item ``change`` broke."""
    when = dt.datetime(2023, 5, 1, tzinfo=UTC)
    items = [stac_item(f"i{i}", when + dt.timedelta(days=i), (10, 40, 11, 41), "c") for i in range(3)]
    change(items[1])
    url = write_static_catalog(tmp_path / name, {"c": items})
    return write_layer_catalog(tmp_path / f"{name}.json", [layer_entry("c", url)])


STAC_BREAKS = {
    "bbox-a-string": lambda item: item.__setitem__("bbox", "10,40,11,41"),
    "datetime-yesterday": lambda item: item["properties"].__setitem__("datetime", "yesterday"),
    "asset-without-href": lambda item: item["assets"]["B04"].pop("href"),
}


@pytest.mark.parametrize("name", list(STAC_BREAKS), ids=list(STAC_BREAKS))
def test_malformed_stac_items_exit_2_naming_the_item(name, env, tmp_path):
    catalog = broken_stac(tmp_path, name, STAC_BREAKS[name])
    result = invoke(["catalog", "search", "c", "--catalog", catalog, "--bbox", "10,40,11,41"])
    assert_refused(result, needles=["i1.json", "'i1'"])
