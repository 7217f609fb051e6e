"""Malformed and hostile input through the real command line, in-process: one line on stderr, exit 2
(or 1), never a traceback, nothing written outside the output location, and never Spark.

The first part pins the cases of issue 16 item 8; the second generates malformed graphs, job options,
layer catalogs and STAC items with hypothesis (every case is refused before Spark would start).
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from sparkeo.cli.main import cli
from tests.fixtures.catalogs import UTC, layer_entry, stac_item, write_layer_catalog, write_static_catalog
from tests.shared_location import CHECKOUT

ROOT = CHECKOUT
DEMO = json.loads((ROOT / "examples" / "ndvi_median.json").read_text())


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKEO_CACHE", str(tmp_path / "cache"))
    for var in ("SPARKEO_USER", "SPARKEO_GROUPS", "SPARKEO_CATALOG", "SPARKEO_METRICS_PORT"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def no_spark(monkeypatch):
    """A tripwire: every case here must be refused before a SparkSession is asked for."""
    import jobs.spark.session

    def refuse(*args, **kwargs):
        raise AssertionError("malformed input reached Spark")
    monkeypatch.setattr(jobs.spark.session, "spark_session", refuse)


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
    """``apply`` inside ``apply`` ``depth`` times (RecursionError in jobs/graph/parse.py before the fix); as text,
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


# --- generated cases ------------------------------------------------------------------------------------
# Every strategy below builds input that is wrong for sure (a value of another type than the field
# needs, never null or an empty value sparkeo may read as "not given"), so the oracle can demand exit 1
# or 2. ``derandomize``: the same cases on every run, so a pass is a pass (no flaky CI).
CASES = {"graphs": 420, "job_options": 260, "catalogs": 180, "stac_items": 180}
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

scalars = st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12))
json_values = st.recursive(st.none() | scalars,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4),
                           max_leaves=12)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:-/. ", min_size=1, max_size=12).filter(lambda t: t.strip())
texts_with_a_letter = st.text(max_size=12).map(lambda t: "x" + t)          # never a number or a date
containers = st.lists(json_values, min_size=1, max_size=3) | st.dictionaries(words, json_values, min_size=1,
                                                                           max_size=3)
truthy_non_dicts = st.one_of(st.integers().filter(bool), texts_with_a_letter, st.lists(json_values, min_size=1,
                                                                                        max_size=3))
non_numbers = st.one_of(texts_with_a_letter, containers)


def unlike(original):
    """Values of another JSON type than ``original`` (and never null): wrong wherever ``original`` is right."""
    if isinstance(original, bool):
        return st.one_of(texts_with_a_letter, containers)
    if isinstance(original, (int, float)):
        return non_numbers
    if isinstance(original, str):
        return st.one_of(st.integers(), st.floats(), containers, st.booleans())
    if isinstance(original, list):
        return st.one_of(st.integers(), st.floats(), st.booleans(), st.dictionaries(words, json_values, min_size=1,
                                                                                     max_size=3))
    return st.one_of(st.integers(), st.floats(), st.booleans(), texts_with_a_letter,
                     st.lists(json_values, min_size=1, max_size=3))


def leaves(value, path=()):
    """Every (path, leaf or container) of a JSON value, the root excluded."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield path + (key,), child
        yield from leaves(child, path + (key,))


def replaced(doc, path, new):
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return doc


# Where the demo graph needs a value of one type: a value of another type there is wrong for sure
# (unlike the operands of eq or is_nan, which take anything). References get a dangling name instead.
TYPED_KEYS = {"process_id", "arguments", "reducer", "process_graph", "dimension", "nir", "red", "format"}


def _is_reference(value) -> bool:
    return isinstance(value, dict) and ("from_node" in value or "from_parameter" in value)


def _typed(path) -> bool:
    return path[-1] in TYPED_KEYS or path[:2] == ("load", "arguments")


@st.composite
def malformed_graphs(draw) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "mutated", "mutated", "reference", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64).filter(lambda b: not b.strip().startswith(b"{")))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "deep":
        depth = draw(st.integers(min_value=201, max_value=3000))
        return (draw(st.sampled_from(["[", '{"a":'])) * depth).encode()
    graph = DEMO["process_graph"]
    if kind == "reference":
        path, ref = draw(st.sampled_from([(p, v) for p, v in leaves(graph) if _is_reference(v)]))
        key = next(iter(ref))
        dangling = {key: "missing-" + draw(st.text(max_size=8))}
        return json.dumps({"process_graph": replaced(graph, path, dangling)}).encode()
    path, original = draw(st.sampled_from([(p, v) for p, v in leaves(graph) if _typed(p) and not _is_reference(v)]))
    return json.dumps({"process_graph": replaced(graph, path, draw(unlike(original)))}).encode()


KNOWN_OPTIONS = {
    "soft_errors": st.one_of(st.floats(min_value=1.001), st.floats(max_value=-0.001), non_numbers),
    "max_input_pixels": st.one_of(st.integers(max_value=1000), non_numbers),
    "max_input_bytes": st.one_of(st.integers(max_value=1000), non_numbers),
    "tile_size": st.one_of(st.integers(max_value=0), non_numbers),
    "resampling": st.one_of(st.integers(), st.booleans(), st.lists(json_values, min_size=1),
                            st.dictionaries(st.sampled_from(["B04", "B08", "SCL"]), texts_with_a_letter, min_size=1)),
}


@st.composite
def malformed_job_options(draw) -> str:
    kind = draw(st.sampled_from(["text", "not-object", "deep", "bad-value", "bad-value", "bad-value"]))
    if kind == "text":
        return draw(st.text(min_size=1, max_size=40).filter(lambda t: not _is_json_object(t)))
    if kind == "not-object":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict) and v is not None)))
    if kind == "deep":
        depth = draw(st.integers(min_value=201, max_value=5000))
        return '{"a": ' * depth + "1" + "}" * depth
    name = draw(st.sampled_from(sorted(KNOWN_OPTIONS)))
    extra = draw(st.dictionaries(st.text(max_size=6).map(lambda t: "x-" + t), json_values, max_size=3))
    return json.dumps({**extra, name: draw(KNOWN_OPTIONS[name])})


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _truthy(strategy):
    return strategy.filter(bool)     # 0, "", [] and {} read as "not given" (sparkeo's defaults apply)


non_dicts = _truthy(st.one_of(st.integers(), st.floats(), texts_with_a_letter, st.lists(json_values, max_size=3)))
non_lists = _truthy(st.one_of(st.integers(), st.floats(), texts_with_a_letter,
                              st.dictionaries(words, json_values, max_size=3)))
non_strings = _truthy(st.one_of(st.integers(), st.floats(), containers))
# Where a layer catalog entry needs a value of one kind (free text, and bands the demo graph does not
# load, would still be a valid catalog). Indexes 2, 3, 4 of eo:bands are B04, B08, SCL.
CATALOG_FIELDS = {
    ("id",): non_strings,
    ("extent",): non_dicts,
    ("extent", "spatial"): non_dicts,
    ("extent", "spatial", "bbox"): non_lists,
    ("extent", "spatial", "bbox", 0): non_lists,
    ("extent", "spatial", "bbox", 0, 0): non_numbers,
    ("extent", "temporal", "interval", 0, 0): _truthy(st.one_of(texts_with_a_letter, containers)),
    ("summaries",): non_dicts,
    ("summaries", "eo:bands"): non_lists,
    ("summaries", "eo:bands", 2): non_dicts,
    ("summaries", "eo:bands", 3, "name"): non_strings,
    ("summaries", "eo:bands", 4, "scale"): non_numbers,
    ("summaries", "eo:bands", 2, "offset"): non_numbers,
    ("_sparkeo",): non_dicts,
    ("_sparkeo", "data_source"): non_dicts,
    ("_sparkeo", "data_source", "type"): _truthy(st.one_of(texts_with_a_letter, st.integers(), containers)),
    ("_sparkeo", "data_source", "url"): _truthy(st.one_of(non_strings, texts_with_a_letter)),
    ("_sparkeo", "data_source", "collection"): _truthy(st.one_of(non_strings, texts_with_a_letter)),
    ("_sparkeo", "href_rewrites"): _truthy(st.one_of(st.integers(), texts_with_a_letter,     # no (prefix, target)
                                                     st.lists(st.integers() | st.floats(), min_size=1, max_size=3))),
    ("_sparkeo", "access"): st.one_of(texts_with_a_letter, st.lists(json_values, min_size=1, max_size=3),
                                      st.fixed_dictionaries({"groups": st.one_of(
                                          texts_with_a_letter, st.integers(),
                                          st.lists(st.one_of(st.integers(), st.none()), min_size=1))})),
}


@st.composite
def malformed_catalogs(draw, entry: dict) -> list:
    if draw(st.integers(0, 9)) == 0:
        return [draw(_truthy(st.one_of(st.integers(), texts_with_a_letter, st.lists(json_values, max_size=3))))]
    path = draw(st.sampled_from(sorted(CATALOG_FIELDS, key=str)))
    return [replaced(entry, path, draw(CATALOG_FIELDS[path]))]


STAC_FIELDS = {
    ("bbox",): st.one_of(texts_with_a_letter, st.integers(), st.lists(st.floats(), min_size=1, max_size=3),
                         st.lists(texts_with_a_letter, min_size=4, max_size=4), st.dictionaries(words, scalars,
                                                                                                min_size=1)),
    ("properties", "datetime"): st.one_of(texts_with_a_letter, st.integers(), containers, st.just("yesterday")),
    ("properties",): truthy_non_dicts,
    ("assets",): truthy_non_dicts,
    ("assets", "B04"): truthy_non_dicts,
    ("assets", "B04", "href"): st.one_of(st.integers(), st.floats(), containers, st.booleans()),
    ("assets", "B04", "eo:bands"): non_lists,
    ("assets", "B04", "eo:bands", 0): non_dicts,
    ("assets", "B04", "raster:bands"): non_lists,
    ("assets", "B04", "raster:bands", 0): non_dicts,
    ("properties", "proj:shape"): non_lists,
    ("properties", "proj:transform"): non_lists,
}


@st.composite
def malformed_items(draw) -> tuple[tuple, object]:
    path = draw(st.sampled_from(sorted(STAC_FIELDS)))
    return path, draw(STAC_FIELDS[path])


def snapshot(root: Path, skip: tuple[Path, ...]) -> dict:
    """Every file under ``root`` (but under ``skip``) with its size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) not in skip]
        for name in filenames:
            stat = Path(dirpath, name).stat()
            out[str(Path(dirpath, name))] = (stat.st_size, stat.st_mtime_ns)
    return out


class Case:
    """One generated case: a private folder (the watched tree, also the working directory), its own
    output location and index cache, and the real CLI invoked in-process."""

    count = 0

    def __init__(self, base: Path):
        self.root = Path(tempfile.mkdtemp(dir=base))
        self.output, self.cache = self.root / "out", self.root / "cache"

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    def check(self, *args, stdin=None):
        before = snapshot(self.root, (self.output, self.cache))
        cwd = os.getcwd()
        os.chdir(self.root)     # so that a relative default (./results/...) would be inside the watched tree
        try:
            result = CliRunner().invoke(cli, [str(a) for a in args], input=stdin,
                                        env={"SPARKEO_CACHE": str(self.cache)})
        finally:
            os.chdir(cwd)
        assert_refused(result, codes=(1, 2))
        assert snapshot(self.root, (self.output, self.cache)) == before, "a file outside the output changed"
        Case.count += 1


@pytest.fixture(scope="module")
def cases_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


@pytest.fixture(scope="module")
def demo_text():
    return json.dumps(DEMO)


@given(graph=malformed_graphs())
@settings(max_examples=CASES["graphs"], **SETTINGS)
def test_generated_graphs_are_refused_in_one_line(graph, cases_dir, sample_small, env, no_spark):
    case = Case(cases_dir)
    path = case.write("graph.json", graph)
    case.check("run", path, "--catalog", sample_small, "--output", case.output, "--job-id", "generated")


@given(options=malformed_job_options())
@settings(max_examples=CASES["job_options"], **SETTINGS)
def test_generated_job_options_are_refused_in_one_line(options, cases_dir, sample_small, demo_text, env, no_spark):
    case = Case(cases_dir)
    path = case.write("graph.json", demo_text)
    case.check("run", path, "--catalog", sample_small, "--output", case.output, "--job-options", options)


@pytest.fixture(scope="module")
def sample_entry(sample_small):
    entry = json.loads(Path(sample_small).read_text())[0]
    # the copy lives elsewhere: its STAC url must point at the sample's catalog, absolutely
    url = entry["_sparkeo"]["data_source"]["url"]
    entry["_sparkeo"]["data_source"]["url"] = str((Path(sample_small).parent / url).resolve())
    return entry


@given(data=st.data())
@settings(max_examples=CASES["catalogs"], **SETTINGS)
def test_generated_layer_catalogs_are_refused_in_one_line(data, cases_dir, sample_entry, demo_text, env, no_spark):
    case = Case(cases_dir)
    catalog = case.write("layercatalog.json", json.dumps(data.draw(malformed_catalogs(sample_entry))))
    graph = case.write("graph.json", demo_text)
    command = data.draw(st.sampled_from([("run", graph, "--output", case.output), ("validate", graph),
                                         ("catalog", "search", "sample-s2", "--bbox", "15,46,15.07,46.06")]))
    case.check(*command, "--catalog", catalog)


@given(change=malformed_items())
@settings(max_examples=CASES["stac_items"], **SETTINGS)
def test_generated_stac_items_are_refused_in_one_line(change, cases_dir, env, no_spark):
    case = Case(cases_dir)
    path, value = change
    when = dt.datetime(2023, 5, 1, tzinfo=UTC)
    items = [stac_item(f"i{i}", when + dt.timedelta(days=i), (10, 40, 11, 41), "c") for i in range(3)]
    items[1] = replaced(items[1], path, value)
    url = write_static_catalog(case.root / "stac", {"c": items})
    catalog = case.write("layercatalog.json", json.dumps([layer_entry("c", url)]))
    case.check("catalog", "search", "c", "--catalog", catalog, "--bbox", "10,40,11,41")


def test_generated_case_count():
    """Runs after the four generated tests (file order): the total the issue asks to report."""
    if Case.count:
        print(f"\ngenerated malformed-input cases run: {Case.count}")
        assert Case.count >= 1000
