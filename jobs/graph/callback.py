"""Evaluate callbacks: a child process graph run on values with named parameters.

A callback (``reducer`` of reduce_dimension, ``process`` of apply, ...) is evaluated vectorised: a
reducer's ``data`` is a ``LabeledArray`` whose axis 0 is the reduced dimension and whose trailing
axes are pixels, ``apply``'s ``x`` is a whole tile. Each node calls the registry's array process
with its resolved arguments (defaults filled in from the ``Param`` list). Errors raised by a
process are located at the callback node, ``"parent_node/child_node"``.

``resolve`` and ``call_array_process`` are shared with ``jobs.graph.evaluate`` (the top-level graph).
"""
from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.parse import FromNode, FromParameter, Node, ProcessGraph


@dataclass(frozen=True)
class Callback:
    """A validated child process graph, callable with its parameters: ``cb(data=..., context=...)``."""

    graph: ProcessGraph
    # the enclosing graph's parameters: a nested callback reads its parent callback's parameters too
    # (array_apply inside apply_dimension reading the dimension's ``data``), its own win on a clash
    outer: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __call__(self, **parameters: Any) -> Any:
        if self.outer:
            parameters = {**self.outer, **parameters}
        chain = self._membership
        if chain is not None:
            return chain.evaluate(self.graph, parameters)
        return evaluate_callback(self.graph, parameters)

    @functools.cached_property
    def _membership(self) -> "MembershipChain | None":
        return MembershipChain.of(self.graph)

    def uses(self, *parameters: str) -> bool:
        """Whether the callback reads any of ``parameters`` (e.g. an array callback's ``index``/``label``)."""
        return not self._parameters_used.isdisjoint(parameters)

    @functools.cached_property
    def _parameters_used(self) -> frozenset[str]:
        return self.graph.parameters_used()

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


@dataclass(frozen=True)
class MembershipChain:
    """A callback whose result is an or-chain of ``eq(X, constant)`` on one operand ``X``
    (e.g. "SCL is 0, 3, 8, 9 or 10"), evaluated as one ``np.isin`` instead of 2n-1 array passes.

    Same values as the chain under openEO's three-valued logic: where ``X`` is no-data every ``eq``
    is no-data and so is the ``or``; elsewhere the ``or`` is true iff ``X`` is one of the constants.
    Only float pixel arrays take this path (the engine's arrays; a constant compares as ``X``'s dtype,
    as ``np.equal`` does with a Python number); anything else evaluates the graph node by node.
    """

    operand: Any                     # FromNode or FromParameter: the X every eq compares
    constants: tuple[float, ...]
    chain: frozenset                 # ids of the or/eq nodes replaced by the isin

    @classmethod
    def of(cls, graph: ProcessGraph) -> "MembershipChain | None":
        chain, leaves = set(), []

        def visit(node_id: str) -> bool:
            node = graph.nodes[node_id]
            args = node.arguments
            if node.process_id == "or" and set(args) == {"x", "y"}:
                chain.add(node_id)
                return all(isinstance(args[k], FromNode) and visit(args[k].node_id) for k in ("x", "y"))
            if node.process_id == "eq" and set(args) <= {"x", "y", "delta", "case_sensitive"} \
                    and args.get("delta") is None:
                x, y = args.get("x"), args.get("y")
                if isinstance(x, (FromNode, FromParameter)) and _plain_number(y):
                    chain.add(node_id)
                    leaves.append((x, y))
                    return True
            return False

        if graph.result.process_id != "or" or not visit(graph.result_node):
            return None
        operands = {x for x, _ in leaves}
        if len(operands) != 1:
            return None
        # nothing outside the chain may consume a chain node (its errors/values would be skipped)
        for node_id, node in graph.nodes.items():
            if node_id not in chain and any(isinstance(v, FromNode) and v.node_id in chain
                                            for v in node.arguments.values()):
                return None
        return cls(operands.pop(), tuple(float(y) for _, y in leaves), frozenset(chain))

    def evaluate(self, graph: ProcessGraph, parameters: Mapping[str, Any]) -> Any:
        import numpy as np

        from jobs.processes.elementwise import boolean_result, unwrap

        results: dict[str, Any] = {}
        for node_id in graph.order:
            if node_id not in self.chain:
                node = graph.nodes[node_id]
                args = {name: resolve(v, results, parameters, node, name) for name, v in node.arguments.items()}
                results[node_id] = call_array_process(node, args)
        x, template = unwrap(resolve(self.operand, results, parameters, graph.result, "x"))
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
            return evaluate_callback(graph, parameters)
        constants = np.asarray(self.constants, dtype=x.dtype)
        if not np.array_equal(constants.astype(np.float64), self.constants):   # not exact in X's dtype
            return evaluate_callback(graph, parameters)
        hit = np.isin(x, constants)
        return boolean_result(hit, np.isnan(x), template)


def _plain_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


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
        return Callback(value, parameters)
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
