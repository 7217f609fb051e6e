"""Evaluate callbacks: a child process graph run on values with named parameters.

A callback (``reducer`` of reduce_dimension, ``process`` of apply, ...) is evaluated vectorised: a
reducer's ``data`` is a ``LabeledArray`` whose axis 0 is the reduced dimension and whose trailing
axes are pixels, ``apply``'s ``x`` is a whole tile. Each node calls the registry's array process
with its resolved arguments (defaults filled in from the ``Param`` list). Errors raised by a
process are located at the callback node, ``"parent_node/child_node"``.

``resolve`` and ``call_array_process`` are shared with ``jobs.evaluate`` (the top-level graph).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph import FromNode, FromParameter, Node, ProcessGraph


@dataclass(frozen=True)
class Callback:
    """A validated child process graph, callable with its parameters: ``cb(data=..., context=...)``."""

    graph: ProcessGraph

    @property
    def node_path(self) -> str:
        """The path of the node owning this callback."""
        return self.graph.path

    def __call__(self, **parameters: Any) -> Any:
        return evaluate_callback(self.graph, parameters)

    def single_process(self, parameter: str = "data") -> str | None:
        """The process id if the callback is one process applied to ``parameter`` with defaults (``median``)."""
        if len(self.graph.nodes) != 1:
            return None
        node = self.graph.result
        first = node.spec.params[0].name if node.spec.params else None
        rest = {k: v for k, v in node.arguments.items() if k != first}
        if first and node.arguments.get(first) == FromParameter(parameter) and not rest:
            return node.process_id
        return None


def evaluate_callback(graph: ProcessGraph, parameters: Mapping[str, Any]) -> Any:
    """The value of ``graph``'s result node, given the callback's parameters."""
    results: dict[str, Any] = {}
    for node_id in graph.order:
        node = graph.nodes[node_id]
        if node.spec.kind == "cube":
            raise ProcessGraphError(node.path, None, f"process {node.process_id!r} works on data cubes "
                                                     "and cannot run inside a callback")
        args = {name: resolve(value, results, parameters, node, name) for name, value in node.arguments.items()}
        results[node_id] = call_array_process(node, args)
    return results[graph.result_node]


def resolve(value: Any, results: Mapping[str, Any], parameters: Mapping[str, Any], node: Node, argument: str) -> Any:
    """An argument template with references replaced by values and callbacks by ``Callback``."""
    if isinstance(value, FromNode):
        return results[value.node_id]
    if isinstance(value, FromParameter):
        if value.name not in parameters:
            known = ", ".join(sorted(parameters)) or "none"
            raise ProcessGraphError(node.path, argument, f"from_parameter {value.name!r} is not provided "
                                                         f"here (parameters: {known})")
        return parameters[value.name]
    if isinstance(value, ProcessGraph):
        return Callback(value)
    if isinstance(value, dict):
        return {k: resolve(v, results, parameters, node, argument) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, results, parameters, node, argument) for v in value]
    return value


def with_defaults(node: Node, args: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` plus the defaults of the optional parameters not given."""
    full = dict(args)
    for p in node.spec.params:
        if p.name not in full and not p.required:
            full[p.name] = p.default
    return full


def call_array_process(node: Node, args: Mapping[str, Any]) -> Any:
    """Run an array process; its ProcessError/ProcessGraphError are located at ``node``."""
    return located(node, lambda: node.spec.fn(**with_defaults(node, args)))


def located(node: Node, fn: Callable[[], Any]) -> Any:
    """``fn()``, with process errors that name no node located at ``node``."""
    try:
        return fn()
    except (ProcessError, ProcessGraphError) as e:
        if e.node_id:
            raise
        raise e.located(node.path) from None
