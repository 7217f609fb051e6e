"""Build the lazy cube DAG of a process graph on the driver.

``build(graph, source)`` evaluates the nodes the result depends on, dependencies first. Cube
processes (``kind="cube"``) return ``LazyCube`` nodes whose ``CubeMeta`` is fixed here, without
reading a pixel; other processes (numbers, bounding boxes...) evaluate directly. Every argument is
checked here, so a bad graph fails before Spark starts, with the node id and argument in the error.

The leaf data comes from a ``CubeSource`` (the layer catalog in a real run, ``ArrayCube`` doubles in
tests). A graph that ends in ``save_result`` yields a ``SaveSpec``; one that ends in a cube without
it yields ``save=None`` (the runner then saves GTiff).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from jobs.graph.callback import Callback, located, resolve, with_defaults
from jobs.plan.formats import RASTER_FORMATS, SPELLINGS, VECTOR_FORMAT_NAMES
from jobs.cube.lazy import LazyCube
from jobs.errors import BuildError, ProcessGraphError
from jobs.graph.parse import Node, ProcessGraph
from sparkeo.errors import SparkeoError

log = logging.getLogger(__name__)


class CubeSource(Protocol):
    """Where ``load_collection`` and ``load_stac`` get their cubes: the catalog-backed loader, or a test double."""

    def load_collection(self, node_id: str, id: str, spatial_extent: dict | None, temporal_extent: list | None,
                        bands: list[str] | None, properties: dict | None) -> LazyCube:
        ...

    def load_stac(self, node_id: str, url: str, spatial_extent: dict | None, temporal_extent: list | None,
                  bands: list[str] | None, properties: dict | None) -> LazyCube:
        ...


@dataclass(frozen=True)
class SaveSpec:
    """What ``save_result`` asked for: format normalised to ``GTiff`` or ``netCDF``."""

    node_id: str
    format: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltJob:
    """The output cube of a graph, how to save it, and the graph it came from."""

    output: LazyCube
    save: SaveSpec | None
    graph: ProcessGraph


@dataclass
class BuildContext:
    """What cube processes see while the DAG is built (their first argument)."""

    source: CubeSource
    graph: ProcessGraph
    saves: list[SaveSpec] = field(default_factory=list)
    # a pass over a cube's pixels before the DAG is complete (trim_cube: which labels hold data), wired
    # by jobs.run to a Spark job; None in dry runs and in-process tests: the pass is not made
    scan: Callable[[LazyCube], Any] | None = None

    @property
    def job_options(self) -> Mapping[str, Any]:
        return self.graph.job_options


def build(graph: ProcessGraph, source: CubeSource, scan: Callable[[LazyCube], Any] | None = None) -> BuiltJob:
    """Evaluate ``graph`` on the driver into a ``BuiltJob``; raises ProcessGraphError / ProcessError.
    ``scan`` makes the data passes some processes need (``BuildContext.scan``)."""
    ctx = BuildContext(source, graph, scan=scan)
    needed = _needed(graph)
    results: dict[str, Any] = {}
    parameters = dict(graph.parameters)
    for node_id in graph.order:
        if node_id in needed:
            results[node_id] = evaluate_node(graph.nodes[node_id], results, parameters, ctx)
    output = results[graph.result_node]
    result = graph.result
    if not isinstance(output, LazyCube):
        raise ProcessGraphError(result.path, None, f"the graph's result ({result.process_id!r}) is not a data cube, "
                                                   "so there is nothing to save")
    extra = [s for s in ctx.saves if s.node_id != result.path]
    if extra:
        raise ProcessGraphError(extra[0].node_id, None, "save_result is supported only as the graph's result node")
    save = ctx.saves[-1] if ctx.saves else None
    return BuiltJob(output, save, graph)


def evaluate_node(node: Node, results: Mapping[str, Any], parameters: Mapping[str, Any], ctx: BuildContext) -> Any:
    """One top-level node: resolve and type-check its arguments, then run its process."""
    args = {name: resolve(value, results, parameters, node, name) for name, value in node.arguments.items()}
    if node.spec.kind != "cube":
        for name, value in args.items():
            if isinstance(value, LazyCube):
                raise ProcessGraphError(node.path, name, f"process {node.process_id!r} works on values, not on a "
                                                         "data cube: use it inside apply or reduce_dimension")
    for name, value in args.items():
        check_kind(node, name, value)
    try:
        if node.spec.kind == "cube":
            return located(node, lambda: node.spec.fn(ctx, node.path, **with_defaults(node, args)))
        return located(node, lambda: node.spec.fn(**with_defaults(node, args)))
    except SparkeoError:
        raise
    except Exception as e:          # a bug, not the graph's fault: exit 1 naming the node, traceback in the log
        log.exception("building node %r (%s) failed", node.path, node.process_id)
        raise BuildError(node.path, node.process_id, e) from e


_KINDS = {
    "number": ((int, float), "a number"),
    "boolean": ((bool,), "true or false"),
    "string": ((str,), "a string"),
    "array": ((list, tuple), "an array"),
    "object": ((dict,), "an object"),
    "cube": ((LazyCube,), "a data cube"),
    "callback": ((Callback,), "a process graph (callback)"),
}


def check_kind(node: Node, name: str, value: Any) -> None:
    """Reject an argument whose JSON type does not match its ``Param.kind`` (null only when the default is)."""
    param = node.spec.param(name)
    if param is None or param.kind not in _KINDS:
        return
    if value is None and (param.kind in ("number", "boolean") or (not param.required and param.default is None)):
        return          # null is no-data for numbers and booleans, and allowed where it is the default
    types, what = _KINDS[param.kind]
    ok = isinstance(value, types) and not (param.kind == "number" and isinstance(value, bool))
    if not ok:
        raise ProcessGraphError(node.path, name, f"expected {what}, got {_describe(value)}")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, LazyCube):
        return "a data cube"
    if isinstance(value, Callback):
        return "a process graph"
    return f"{type(value).__name__} {value!r}"[:120]


def _needed(graph: ProcessGraph) -> set[str]:
    """The nodes the result node depends on (itself included)."""
    needed, todo = set(), [graph.result_node]
    while todo:
        node_id = todo.pop()
        if node_id not in needed:
            needed.add(node_id)
            todo.extend(graph.nodes[node_id].dependencies())
    return needed


def normalise_format(fmt: str, node_id: str) -> str:
    """``GTiff``, ``netCDF``, ``JSON``, ``CSV`` or ``GeoParquet`` for any spelling; FormatUnsuitable otherwise."""
    from jobs.errors import ProcessError

    name = SPELLINGS.get(str(fmt).lower())
    if name is None:
        raise ProcessError("FormatUnsuitable", f"output format {fmt!r} is not supported (use "
                                               f"{' or '.join(RASTER_FORMATS)}; {', '.join(VECTOR_FORMAT_NAMES)} "
                                               "for aggregate_spatial)", node_id, "format")
    return name
