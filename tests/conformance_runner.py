"""Run the upstream openEO process tests (``../shared/spec/openeo-processes/tests/*.json5``) on sparkeo.

Loading and decoding follow the suite's ``tests/README.md``: ``{"type": "nodata"}`` is ``null``
(``None``), ``{"type": "datetime"}`` its RFC 3339 string, ``{"type": "labeled-array"}`` a
``LabeledArray``, ``{"type": "datacube"}`` (inline or via ``{"$ref": "assets/..."}``) an ``ArrayCube``.

Each case runs through sparkeo's own path: a one-node process graph parsed and validated by
``jobs.graph.parse``, array processes evaluated like a callback node (``jobs.graph.callback``), cube processes
built like a top-level node (``jobs.graph.evaluate``) and the result cube materialised and re-encoded
(``jobs.cube.arraycube.to_openeo``). ``throws`` cases must raise the named openEO error
(``ProcessError.code``). Return values are compared with the case's ``delta`` (default 1e-10, the
suite's 10 decimals).

Cases that cannot apply are skipped with the reason in ``KNOWN_SKIPS`` (openEO 1.2.0 wins over
2.0.0-rc.2, see DESIGN.md "openEO version"; upstream test bugs), never dropped.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import json5
import numpy as np

from jobs.cube.arraycube import ArrayCube, to_openeo
from jobs.graph.callback import evaluate_callback
from jobs.cube.lazy import LazyCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.evaluate import BuildContext, evaluate_node
from jobs.graph.parse import ProcessGraph
from jobs.processes.labeled import LabeledArray, is_number
from jobs.processes.registry import lookup
from tests.shared_location import SHARED

SPEC = SHARED / "spec" / "openeo-processes"
TESTS_DIR = SPEC / "tests"
SPEC_DIR = SPEC / "v1.2.0"
DEFAULT_DELTA = 1e-10

_V12 = "openEO 1.2.0 wins over 2.0.0-rc.2: "
_TEMPORAL_12 = _V12 + "1.2.0 compares temporal strings as instants (2.0 compares only numbers)"
_IS_NAN_12 = _V12 + "1.2.0 is_nan returns true for every non-numeric value (2.0: false)"
_COUNT_BUG = ("upstream test bug: the condition reads from_parameter 'element', but count's condition "
              "declares 'x' and 'context' (and the graph lacks its \"process_graph\" wrapper)")

_NULL_ONLY = ("upstream test bug: {}([null], ignore_nodata=false) is expected to be {}; the examples of the "
              "1.2.0 and 2.0 specifications say null (the truth table has a single no-data value)")
_FROM_ARGUMENT = ("upstream test bug: the callback uses \"from_argument\" (openEO 0.4 syntax), "
                  "which openEO 1.x replaced by from_parameter")
_NO_TARGET = "upstream test bug: omits 'target', a required parameter of rename_labels in 1.2.0 and 2.0"
_MASK_INVERTED = ("upstream test bug: the expected cube keeps the pixels where the mask is 1 and replaces those "
                  "where it is 0; the spec (1.2.0 and 2.0) replaces the non-zero mask pixels")

_BLUE_165 = ("the expected values were computed with blue = 165 at pixel (0, 3) of assets/xyb-minimal-int.json5, "
             "where the asset has the no-data value 255")
_RENAMED_T2 = ("upstream test bug: aggregating dimension 't2' is expected to return it renamed to 't' "
               "(the spec keeps the dimension's name)")

_JANUARY_FOR_JUNE = ("upstream test bug: the intervals and expected labels lie in January 2020, the data "
                     "(xyt-more-timestamps) in June 2020; the expected values are those of the same days")
_AT_DAILY = ("upstream test bug: every label of xyt-more-timestamps is at 00:00, so 18:00-06:00 holds all five; "
             "the expected values are no reducer's over them (pixel [0,0] mean 0.002, expected the last, -12.23)")
_LABELS_IN_REDUCER = "upstream test bug: argument 'labels' is inside the reducer object instead of beside it"

# (process id, case index) -> why the case cannot apply to sparkeo
KNOWN_SKIPS: dict[tuple[str, int], str] = {
    **{("aggregate_temporal", i): _JANUARY_FOR_JUNE for i in (5, 6, 7, 8)},
    ("aggregate_temporal", 9): _LABELS_IN_REDUCER, ("aggregate_temporal", 10): _AT_DAILY,
    ("eq", 10): _TEMPORAL_12, ("neq", 10): _TEMPORAL_12,
    ("gt", 5): _TEMPORAL_12, ("gte", 7): _TEMPORAL_12, ("lt", 5): _TEMPORAL_12, ("lte", 7): _TEMPORAL_12,
    **{("is_nan", i): _IS_NAN_12 for i in (5, 6, 7, 8, 9, 10, 11, 12, 13)},
    ("lte", 8): _TEMPORAL_12,
    ("count", 4): _COUNT_BUG, ("count", 5): _COUNT_BUG,
    ("lte", 15): "upstream test bug: expects lte(Infinity, Infinity) to be false; IEEE 754 (and gte[15]) say true",
    **{case: _FROM_ARGUMENT for case in (("apply", 1), ("merge_cubes", 3))},
    ("reduce_dimension", 1): _FROM_ARGUMENT + "; and " + _BLUE_165,
    ("rename_labels", 5): _NO_TARGET, ("rename_labels", 7): _NO_TARGET,
    ("filter_bands", 4): ("upstream test bug: filter_bands(bands=['red', 'blue']) is expected to return "
                          "the bands 'blue', 'green'"),
    ("apply", 2): "upstream test bug: " + _BLUE_165,
    ("apply_dimension", 1): "upstream test bug: " + _BLUE_165,
    ("apply_dimension", 2): ("upstream test bug: applies over dimension 'bands' of a cube with dimensions "
                             "t, y, x (DimensionNotAvailable), and encodes the expected cube's dimensions "
                             "as a list without \"order\""),
    ("mask", 0): _MASK_INVERTED, ("mask", 2): _MASK_INVERTED,
    ("aggregate_temporal_period", 3): ("upstream test bug: period 'hour' over 00:00-04:00 has 5 hourly periods "
                                       "(2020-06-01-00 ... -04); the case expects 4 labels one day apart"),
    ("aggregate_temporal_period", 4): ("upstream test bug: 'day' labels are YYYY-DDD in 1.2.0 and 2.0 "
                                       "('2020-153'); the case expects the hour format '2020-06-01-00'"),
    ("aggregate_temporal_period", 8): _RENAMED_T2, ("aggregate_temporal_period", 9): _RENAMED_T2,
    ("array_element", 3): ("upstream test bug: label 'BO2' (letter O) is not among the labels "
                           "'B01', 'B02', 'B03' (digit zero), yet the case expects 5"),
    **{("all", 9): _V12 + "all([]) is null in 1.2.0 (2.0: true)",
       ("any", 9): _V12 + "any([]) is null in 1.2.0 (2.0: false)",
       ("all", 8): _NULL_ONLY.format("all", "true"), ("any", 8): _NULL_ONLY.format("any", "false")},
    **{("array_apply", i): _FROM_ARGUMENT for i in range(9)},
    **{("array_filter", i): _FROM_ARGUMENT + "; and names the callback 'process' (1.2.0 and 2.0: 'condition')"
       for i in range(7)},
    ("array_append", 0): "upstream test bug: appending 0 to [] is expected to give [1]",
    ("array_append", 9): _V12 + "array_append discards the labels in 1.2.0 (2.0 labels the new element)",
    ("array_concat", 5): _V12 + "array_concat discards the labels in 1.2.0 (2.0 keeps them)",
    ("array_modify", 2): _V12 + "the default length is 1 in 1.2.0 (2.0: 0, an insertion)",
    ("array_find", 6): "upstream test bug: value 3 is the element at index 0 of [3, 4], the case expects 1",
    ("int", 12): ("upstream test bug: int(NaN) is expected to be no-data; NaN is a number, not no-data "
                  "(implementation guide), and int passes it through like floor and ceil do"),
    ("product", 10): "upstream test bug: 1 * -inf * 3 * inf is -inf in IEEE 754, the case expects NaN",
    **{("rename_dimension", i): ("upstream test bug: renaming spatial dimension {} to {!r} is expected to leave "
                                 "it in place and rename the other spatial dimension; renaming spatial "
                                 "dimensions is also unsupported (tiles address them as y and x)").format(*dim)
       for i, dim in ((3, ("x", "lon")), (4, ("y", "lat")))},
    ("rename_dimension", 5): "upstream test bug: the expected cube's key \"order\" is misspelt \"order: \"",
    **{("mask_polygon", i): ("upstream test bug: the polygon (16.1-16.6 E, 48.1-48.6 N) lies far from the data "
                             "(EPSG:25832 near 7.6 E, 52 N), yet the case expects every pixel replaced with "
                             f"inside={inside} and none with inside={not inside} (the spec says the reverse)")
       for i, inside in ((0, True), (1, False))},
    ("mask_polygon", 6): ("upstream test bug: its expected cube keeps 4 pixels (t 3, band 5, y 2, x 3-6) that "
                          "assets/xytb-s2-small-masked-outside.json5 keeps as well: a pixel cannot be both inside "
                          "and outside the polygon"),
}


def _rewrite(value: Any, old: set[str], new_key: str) -> Any:
    """``value`` with every ``{old_key: name}`` object (``old_key`` in ``old``) replaced by ``{new_key: name}``."""
    if isinstance(value, list):
        return [_rewrite(v, old, new_key) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in old:
            return {new_key: next(iter(value.values()))}
        return {k: _rewrite(v, old, new_key) for k, v in value.items()}
    return value


def _fix_count(case: "Case") -> "Case":
    condition = _rename_parameter(case.arguments["condition"], "element", "x")
    fixed = {**case.arguments, "condition": {"process_graph": condition}}
    return replace(case, arguments=fixed)


def _rename_parameter(value: Any, old: str, new: str) -> Any:
    if isinstance(value, list):
        return [_rename_parameter(v, old, new) for v in value]
    if isinstance(value, dict):
        if value == {"from_parameter": old}:
            return {"from_parameter": new}
        return {k: _rename_parameter(v, old, new) for k, v in value.items()}
    return value


def _fix_array_callback(case: "Case") -> "Case":
    """array_apply/array_filter: openEO 0.4 ``from_argument`` and callback name, and each case's own slip."""
    arguments = _rewrite(dict(case.arguments), {"from_argument"}, "from_parameter")
    if case.process_id == "array_filter":
        arguments["condition"] = arguments.pop("process")
        graph = arguments["condition"]["process_graph"]
        if "gt" in graph and "y" not in graph["gt"]["arguments"]:       # case 0: gt(x: 3) lacks y
            graph["gt"]["arguments"] = {"x": {"from_parameter": "x"}, "y": 3}
        if "const" in graph and graph["const"]["process_id"] == "subtract":     # case 5 requires gt
            graph["const"]["process_id"] = "gt"
    graph = arguments.get("process", {}).get("process_graph", {})
    if "mulitply" in graph:
        graph["mulitply"]["process_id"] = "multiply"
    returns = case.returns
    if case.process_id == "array_apply" and case.index == 8:
        returns = [*returns[:3], -6.45, *returns[4:]]                   # (-4.725 + 1.5) * 2 is negative
    if isinstance(returns, list) and returns and isinstance(returns[0], dict) and "key" in returns[0]:
        returns = {"type": "labeled-array", "data": returns}     # case 3: the labeled array's items, unwrapped
    return replace(case, arguments=arguments, returns=returns)


def _blue_165(case: "Case") -> "Case":
    """The case on assets/xyb-minimal-int.json5 with blue[0][3] = 165, the value its expectations assume."""
    asset = json5.loads((TESTS_DIR / "assets" / "xyb-minimal-int.json5").read_text(encoding="utf-8"))
    asset["data"][2][0][3] = 165
    arguments = {**case.arguments, "data": asset}
    return replace(case, arguments=_rewrite(arguments, {"from_argument"}, "from_node"))


def _rename_dimension(cube: Mapping[str, Any], old: str, new: str) -> dict:
    return {**cube, "order": [new if d == old else d for d in cube["order"]],
            "dimensions": {(new if d == old else d): v for d, v in cube["dimensions"].items()}}


def _january_data(case: "Case") -> "Case":
    """The case on xyt-more-timestamps moved to January 2020 (its intervals' and expectations' month),
    ``labels`` beside the reducer (case 9), a delta for the expectations rounded to 2 decimals."""
    asset = json5.loads((TESTS_DIR / "assets" / "xyt-more-timestamps.json5").read_text(encoding="utf-8"))
    t = asset["dimensions"]["t"]
    t["values"] = [v.replace("2020-06-", "2020-01-") for v in t["values"]]
    arguments = {**case.arguments, "data": asset}
    if "labels" in arguments["reducer"]:
        reducer = dict(arguments["reducer"])
        arguments["labels"] = reducer.pop("labels")
        arguments["reducer"] = reducer
    return replace(case, arguments=arguments, delta=max(case.delta, 0.01))


# (process id, case index) -> (the upstream bug, the unambiguous fix). The original case stays skipped
# (counted as skipped); the repaired copy runs as an extra case ``id~repaired`` and is tallied apart.
REPAIRS: dict[tuple[str, int], tuple[str, Callable[["Case"], "Case"]]] = {
    **{("aggregate_temporal", i): ("data labels 2020-06-* -> 2020-01-*, delta 0.01 for the rounded expectations"
                                   + (", 'labels' moved out of the reducer" if i == 9 else ""), _january_data)
       for i in (5, 6, 7, 8, 9)},
    ("count", 4): ("condition wrapped in process_graph, parameter 'element' -> 'x'", _fix_count),
    ("count", 5): ("condition wrapped in process_graph, parameter 'element' -> 'x'", _fix_count),
    ("array_element", 3): ("label 'BO2' -> 'B02'",
                           lambda c: replace(c, arguments={**c.arguments, "label": "B02"})),
    ("lte", 15): ("expected lte(Infinity, Infinity) -> true", lambda c: replace(c, returns=True)),
    ("apply", 1): ("from_argument -> from_parameter",
                   lambda c: replace(c, arguments=_rewrite(c.arguments, {"from_argument"}, "from_parameter"))),
    ("merge_cubes", 3): ("from_argument -> from_parameter",
                         lambda c: replace(c, arguments=_rewrite(c.arguments, {"from_argument"}, "from_parameter"))),
    ("apply", 2): ("input blue[0][3] 255 (no-data) -> 165", _blue_165),
    ("apply_dimension", 1): ("input blue[0][3] 255 (no-data) -> 165", _blue_165),
    ("reduce_dimension", 1): ("input blue[0][3] 255 (no-data) -> 165; from_argument (naming nodes) -> from_node",
                              _blue_165),
    **{("array_apply", i): ("from_argument -> from_parameter" + (", process 'mulitply' -> 'multiply', expected "
                                                           "6.45 -> -6.45" if i == 8 else ""),
                            _fix_array_callback) for i in range(9)},
    **{("array_filter", i): ("from_argument -> from_parameter, argument 'process' -> 'condition'" + extra,
                             _fix_array_callback)
       for i, extra in ((0, ", gt gets y"), (1, ""), (2, ""), (3, ", expected a labeled array"), (4, ""),
                        (5, ", the condition subtract(x, 1) -> gt(x, 1) as the case requires"), (6, ""))},
    ("rename_dimension", 5): ("expected key \"order: \" -> \"order\"",
                             lambda c: replace(c, returns={("order" if k == "order: " else k): v
                                                           for k, v in c.returns.items()})),
    ("aggregate_temporal_period", 8): ("expected dimension 't' -> 't2'",
                                       lambda c: replace(c, returns=_rename_dimension(c.returns, "t", "t2"))),
    ("aggregate_temporal_period", 9): ("expected dimension 't' -> 't2'",
                                       lambda c: replace(c, returns=_rename_dimension(c.returns, "t", "t2"))),
}


# (process id, example index) -> why a 1.2.0 example cannot run
_FINDS_NULL = ("upstream example bug: the 1.2.0 description says searching for null finds nothing; the "
               "example expects a match (the 2.0 test agrees with the description)")
EXAMPLE_SKIPS: dict[tuple[str, int], str] = {
    ("count", 4): _COUNT_BUG.replace("upstream test bug", "upstream example bug"),
    ("array_contains", 3): _FINDS_NULL, ("array_find", 4): _FINDS_NULL,
}


@dataclass(frozen=True)
class Case:
    """One upstream test case: ``process[index]``."""

    process_id: str
    index: int
    arguments: Mapping[str, Any]
    returns: Any = None
    has_returns: bool = False
    throws: str | bool | None = None
    delta: float = DEFAULT_DELTA
    required: tuple[str, ...] = ()
    level: str | None = None
    repaired: str | None = None           # the upstream bug this copy of the case fixes
    example: bool = False                 # from the ``examples`` of a 1.2.0 process specification

    @property
    def id(self) -> str:
        return f"{self.process_id}[{self.index}]" + ("~repaired" if self.repaired else "")


@dataclass(frozen=True)
class Suite:
    """All cases of all test files, and the ids of the processes with a test file."""

    cases: tuple[Case, ...]
    processes: tuple[str, ...] = field(default=())


class MissingAsset(Exception):
    """Raised when a ``$ref`` names a file the upstream suite does not ship."""

    def __init__(self, ref: str):
        super().__init__(ref)
        self.ref = ref


def load_suite(tests_dir: Path = TESTS_DIR) -> Suite:
    """Every case of every ``*.json5`` in ``tests_dir`` (sorted by process id, then case order)."""
    cases, processes = [], []
    for path in sorted(tests_dir.glob("*.json5")):
        doc = json5.loads(path.read_text(encoding="utf-8"))
        processes.append(doc["id"])
        for i, test in enumerate(doc.get("tests", [])):
            cases.append(Case(doc["id"], i, test["arguments"], test.get("returns"), "returns" in test,
                              test.get("throws"), float(test.get("delta", DEFAULT_DELTA)),
                              tuple(test.get("required", ())), test.get("level", doc.get("level"))))
    return Suite(tuple(cases), tuple(processes))


def load_examples(spec_dir: Path = SPEC_DIR) -> tuple[Case, ...]:
    """The ``examples`` of the 1.2.0 process specifications and proposals as cases (plain JSON: null is no-data)."""
    cases = []
    for path in sorted(spec_dir.glob("*.json")) + sorted((spec_dir / "proposals").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for i, example in enumerate(doc.get("examples") or ()):
            cases.append(Case(doc["id"], i, example.get("arguments", {}), example.get("returns"),
                              "returns" in example, example=True))
    return tuple(cases)


def repaired_cases(suite: Suite) -> tuple[Case, ...]:
    """Copies of the cases in ``REPAIRS`` with their upstream bug fixed."""
    out = []
    for case in suite.cases:
        if (case.process_id, case.index) in REPAIRS:
            what, fix = REPAIRS[(case.process_id, case.index)]
            out.append(replace(fix(case), repaired=what))
    return tuple(out)


# 2.0 test files of processes that 2.0 renamed without changing them: run as the 1.2.0 process
RENAMED_IN_2_0 = {"text_concat": "text_merge"}


def process_of(case: Case) -> str:
    """The 1.2.0 process id a case runs."""
    return RENAMED_IN_2_0.get(case.process_id, case.process_id)


def skip_reason(case: Case) -> str | None:
    """Why ``case`` cannot run on sparkeo, or None."""
    if lookup(process_of(case)) is None:
        return f"unsupported: sparkeo does not implement {case.process_id!r}"
    missing = [p for p in case.required if lookup(p) is None]
    if missing:
        return f"needs process(es) sparkeo does not implement: {', '.join(missing)}"
    if case.example:
        if not case.has_returns:
            return "1.2.0 example without a return value (illustrates the arguments only)"
        return EXAMPLE_SKIPS.get((case.process_id, case.index))
    if case.repaired:
        return None
    return KNOWN_SKIPS.get((case.process_id, case.index))


# --- decoding ------------------------------------------------------------------------------------
def decode(value: Any, tests_dir: Path = TESTS_DIR, *, cubes: bool = True) -> Any:
    """An argument (``cubes=True``: data cubes become ``ArrayCube``) or expected value, decoded."""
    if isinstance(value, list):
        return [decode(v, tests_dir, cubes=cubes) for v in value]
    if not isinstance(value, dict):
        return value
    if "$ref" in value:
        path = tests_dir / value["$ref"]
        if not path.is_file():
            raise MissingAsset(value["$ref"])
        text = path.read_text(encoding="utf-8")
        if path.suffix not in (".json", ".json5"):
            return text                 # e.g. assets/epsg25832.wkt2: a CRS as WKT2 text
        return decode(json5.loads(text), tests_dir, cubes=cubes)
    kind = value.get("type")
    if kind == "nodata":
        return None
    if kind == "datetime":
        return value["value"]
    if kind == "labeled-array":
        items = value["data"]
        return LabeledArray.from_list([decode(i["value"], tests_dir, cubes=cubes) for i in items],
                                      [i["key"] for i in items])
    if kind == "datacube":
        return ArrayCube.from_openeo(value, node_id="input") if cubes else value
    if "process_graph" in value:
        return value                    # a callback: parsed by jobs.graph.parse
    return {k: decode(v, tests_dir, cubes=cubes) for k, v in value.items()}


# --- running ---------------------------------------------------------------------------------------
def run(case: Case) -> Any:
    """The value sparkeo computes for ``case`` (cubes re-encoded); raises what the process raises."""
    arguments = {name: decode(v) for name, v in case.arguments.items()}
    graph = ProcessGraph.parse({"process_graph": {
        "case": {"process_id": process_of(case), "arguments": arguments, "result": True}}},
        source=case.id)
    node = graph.result
    if node.spec.kind == "cube":
        result = evaluate_node(node, {}, {}, BuildContext(source=None, graph=graph))
    else:
        result = evaluate_callback(graph, {})
    return to_openeo(result) if isinstance(result, LazyCube) else result


def error_code(error: BaseException) -> str:
    """The openEO error name of a sparkeo error."""
    return getattr(error, "code", type(error).__name__)


def expected_error(case: Case, error: BaseException) -> bool:
    """Whether ``error`` is what ``case.throws`` asks for."""
    if not isinstance(error, (ProcessError, ProcessGraphError)):
        return False
    return case.throws is True or error_code(error) == case.throws


# --- comparing -------------------------------------------------------------------------------------
def mismatch(actual: Any, expected: Any, delta: float, where: str = "result") -> str | None:
    """None when ``actual`` equals ``expected`` (numbers within ``delta``), else what differs."""
    if isinstance(expected, dict) and expected.get("type") == "datacube":
        return _cube_mismatch(actual, expected, delta, where)
    if isinstance(actual, LabeledArray) and not actual.pixel_shape and not isinstance(expected, LabeledArray):
        actual = [actual.element(i) for i in range(len(actual))]
    if isinstance(expected, LabeledArray):
        if not isinstance(actual, LabeledArray):
            return f"{where}: expected a labeled array, got {actual!r}"
        if tuple(actual.labels or ()) != tuple(expected.labels or ()):
            return f"{where}: labels {actual.labels!r} != {expected.labels!r}"
        return mismatch([actual.element(i) for i in range(len(actual))],
                        [expected.element(i) for i in range(len(expected))], delta, where)
    if isinstance(actual, np.ndarray):
        actual = actual.tolist()
    if isinstance(actual, np.generic):
        actual = actual.item()
    if expected is None:
        return None if actual is None else f"{where}: expected no-data (null), got {actual!r}"
    if isinstance(expected, bool):
        ok = isinstance(actual, bool) and actual == expected
        return None if ok else f"{where}: expected {expected!r}, got {actual!r}"
    if is_number(expected):
        if not is_number(actual):
            return f"{where}: expected {expected!r}, got {actual!r}"
        return None if _close(float(actual), float(expected), delta) else f"{where}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, str):
        return None if _same_text(actual, expected) else f"{where}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, list):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            return f"{where}: expected {len(expected)} elements {expected!r}, got {actual!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            found = mismatch(a, e, delta, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return f"{where}: expected {expected!r}, got {actual!r}"
        for k in expected:
            found = mismatch(actual[k], expected[k], delta, f"{where}.{k}")
            if found:
                return found
        return None
    return None if actual == expected else f"{where}: expected {expected!r}, got {actual!r}"


def _close(a: float, e: float, delta: float) -> bool:
    if math.isnan(e) or math.isnan(a):
        return math.isnan(e) and math.isnan(a)
    if math.isinf(e) or math.isinf(a):
        return a == e
    return abs(a - e) <= delta


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _instant(text: str) -> datetime | None:
    if not _DATE.match(text):
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _same_text(actual: Any, expected: str) -> bool:
    if not isinstance(actual, str):
        return False
    if actual == expected:
        return True
    a, e = _instant(actual), _instant(expected)
    return a is not None and a == e          # "2020-01-01" and "2020-01-01T00:00:00Z" are one label


def _cube_mismatch(actual: Any, expected: Mapping[str, Any], delta: float, where: str) -> str | None:
    if not isinstance(actual, dict) or actual.get("type") != "datacube":
        return f"{where}: expected a data cube, got {actual!r}"[:300]
    order = list(expected["order"])
    if list(actual["order"]) != order:
        if sorted(actual["order"]) != sorted(order):
            return f"{where}: dimensions {actual['order']} != {order}"
        actual = _transpose(actual, order)
    for dim in order:
        exp_dim, act_dim = expected["dimensions"][dim], actual["dimensions"][dim]
        if exp_dim.get("type") == "spatial":
            found = mismatch(list(act_dim["values"]), list(exp_dim["values"]), 1e-6, f"{where}.{dim}")
        else:
            found = mismatch(list(act_dim["values"]), list(exp_dim["values"]), delta, f"{where}.{dim}")
        if found:
            return found
    if expected.get("data") is None:
        return None                      # the suite says the values are irrelevant here
    exp_values = np.array(_nan_for_null(expected["data"]), dtype=np.float64)
    act_values = np.array(actual["data"], dtype=np.float64)
    if exp_values.shape != act_values.shape:
        return f"{where}: data shape {act_values.shape} != {exp_values.shape}"
    # the cube's nodata (NaN in sparkeo's float cubes) compares equal to the expected nodata value
    nodata = expected.get("nodata")
    nodata = nodata[0] if isinstance(nodata, list) and nodata else nodata
    if is_number(nodata) and not math.isnan(nodata):
        exp_values = np.where(exp_values == nodata, np.nan, exp_values)
    # float32 working arrays: compare with the delta scaled to float32 resolution
    tolerance = max(delta, 1e-6 * np.nanmax(np.abs(np.where(np.isinf(exp_values), 0, exp_values)), initial=1.0))
    same = np.isclose(act_values, exp_values, rtol=0, atol=tolerance, equal_nan=True) | (act_values == exp_values)
    if not same.all():
        idx = tuple(int(i) for i in np.argwhere(~same)[0])
        return (f"{where}.data{list(idx)}: expected {exp_values[idx]!r}, got {act_values[idx]!r} "
                f"({int((~same).sum())} of {same.size} values differ)")
    return None


def _transpose(cube: dict, order: list[str]) -> dict:
    values = np.array(cube["data"], dtype=np.float64)
    axes = [list(cube["order"]).index(d) for d in order]
    return {**cube, "order": order, "data": np.transpose(values, axes).tolist()}


def _nan_for_null(data: Any) -> Any:
    if isinstance(data, list):
        return [_nan_for_null(v) for v in data]
    return np.nan if data is None else data
