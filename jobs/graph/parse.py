"""Parse and validate an openEO process graph into an immutable ``ProcessGraph``.

Accepted documents: ``{"process_graph": {...}}``, a flat graph ``{node_id: {...}}``, or an openEO
job body ``{"process": {"process_graph": {...}}, "job_options": {...}}``. Validation happens here,
before anything is evaluated: JSON syntax (line and column), exactly one result node per graph,
``process_id`` and ``arguments`` on every node, unknown processes, missing required and unknown
arguments (from the registry's ``Param`` lists), ``from_node`` to a missing node, cycles (the
message names the nodes on the cycle), and ``from_parameter`` names no enclosing callback defines.
Callbacks (``{"process_graph": ...}`` argument values) are validated recursively; their node ids
are reported as ``"parent_node/child_node"``.

Arguments are stored as templates: ``FromNode``, ``FromParameter`` and nested ``ProcessGraph``
(callbacks) in place of the JSON reference objects; plain values stay as they are.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from sparkeo import jsondoc

from jobs.errors import ProcessGraphError
from jobs.processes.registry import ProcessSpec, lookup


@dataclass(frozen=True)
class FromNode:
    """A reference to another node's result in the same graph."""

    node_id: str


@dataclass(frozen=True)
class FromParameter:
    """A reference to a parameter of the enclosing callback (or of the process itself)."""

    name: str


@dataclass(frozen=True)
class Node:
    """One validated node: ``id`` inside its graph, ``path`` the full id (``"parent/child"`` in callbacks)."""

    id: str
    path: str
    process_id: str
    arguments: Mapping[str, Any]          # templates: FromNode, FromParameter, ProcessGraph, values
    spec: ProcessSpec
    result: bool = False

    def dependencies(self) -> tuple[str, ...]:
        """Ids of the nodes this node reads (``from_node`` anywhere in its arguments, not in callbacks)."""
        return tuple(dict.fromkeys(ref.node_id for ref in _references(self.arguments, FromNode)))


@dataclass(frozen=True)
class ProcessGraph:
    """A validated process graph; ``order`` lists node ids dependencies first."""

    nodes: Mapping[str, Node]
    result_node: str
    order: tuple[str, ...]
    raw: Mapping[str, Any]                # the flat JSON graph as given (for hashing and logging)
    job_options: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)   # process parameters: name -> default
    path: str = ""                        # "" for the top graph, the parent node's path for callbacks
    source: str = "<graph>"

    # --- parsing --------------------------------------------------------------------------------
    @classmethod
    def parse(cls, doc: str | bytes | dict, source: str = "<graph>") -> "ProcessGraph":
        """Parse and validate a process graph document; raises ``ProcessGraphError``."""
        if isinstance(doc, (str, bytes, bytearray)):
            doc = _loads(doc, source)
        else:   # a document handed over parsed (web API) gets the same depth bound as text
            try:
                jsondoc.check_depth(doc)
            except jsondoc.JsonDocumentError as e:
                raise ProcessGraphError(None, None, f"{source}: {e}") from None
        if not isinstance(doc, dict):
            raise ProcessGraphError(None, None, f"{source}: a process graph must be a JSON object, got {type(doc).__name__}")
        flat, job_options, parameters = _unwrap(doc, source)
        return cls._from_flat(flat, path="", scope=frozenset(parameters), job_options=job_options,
                              parameters=parameters, source=source)

    @classmethod
    def _from_flat(cls, flat: Any, path: str, scope: frozenset | None, job_options: Mapping = None,
                   parameters: Mapping = None, source: str = "<graph>") -> "ProcessGraph":
        if not isinstance(flat, dict) or not flat:
            raise ProcessGraphError(path or None, None, "process_graph must be a non-empty object of nodes")
        nodes = {node_id: _parse_node(node_id, body, path, scope) for node_id, body in flat.items()}
        results = [n.id for n in nodes.values() if n.result]
        if len(results) != 1:
            found = f"{len(results)} ({', '.join(map(repr, results))})" if results else "none"
            where = f"callback of node {path!r}" if path else "process graph"
            raise ProcessGraphError(path or None, None,
                                    f"{where} must have exactly one node with \"result\": true, found {found}")
        for node in nodes.values():
            for dep in node.dependencies():
                if dep not in nodes:
                    raise ProcessGraphError(node.path, _argument_of(node.arguments, dep),
                                            f"from_node {dep!r} refers to a node that does not exist")
        order = _topological_order(nodes)
        return cls(nodes, results[0], order, flat, dict(job_options or {}), dict(parameters or {}), path, source)

    # --- queries ----------------------------------------------------------------------------------
    def sha256(self) -> str:
        """Hash of the canonical JSON of the flat graph (sorted keys, no whitespace): ``graph_sha256``."""
        canonical = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def result(self) -> Node:
        return self.nodes[self.result_node]

    def parameters_used(self) -> frozenset[str]:
        """The names of every ``from_parameter`` in the graph, nested callbacks included."""
        return frozenset(ref.name for node in self.walk() for ref in _references(node.arguments, FromParameter))

    def walk(self) -> Iterator[Node]:
        """Every node, callbacks included (depth first, dependencies first)."""
        for node_id in self.order:
            node = self.nodes[node_id]
            yield node
            for cb in _references(node.arguments, ProcessGraph):
                yield from cb.walk()


# --- document forms ---------------------------------------------------------------------------------
def _loads(doc: str | bytes, source: str) -> Any:
    try:
        return jsondoc.loads(doc)
    except jsondoc.JsonDocumentError as e:
        raise ProcessGraphError(None, None, f"{source}: {e}") from None


def _unwrap(doc: dict, source: str) -> tuple[Any, dict, dict]:
    """(flat graph, job options, process parameters) of any of the accepted document forms."""
    job_options = dict(doc.get("job_options") or {}) if isinstance(doc.get("job_options"), dict) else {}
    body = doc
    if isinstance(doc.get("process"), dict):
        body = doc["process"]
        if isinstance(body.get("job_options"), dict):
            job_options = {**body["job_options"], **job_options}
    if "process_graph" in body:
        flat = body["process_graph"]
    elif body is doc and any(isinstance(v, dict) and "process_id" in v for v in doc.values()):
        flat = doc
    else:
        raise ProcessGraphError(None, None, f"{source}: no process graph found (expected \"process_graph\", "
                                            "a job body with \"process\", or a flat graph of nodes)")
    parameters = {}
    for p in body.get("parameters") or ():
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            parameters[p["name"]] = p.get("default")      # no default: null
    return flat, job_options, parameters


# --- nodes --------------------------------------------------------------------------------------------
def _parse_node(node_id: str, body: Any, parent: str, scope: frozenset | None) -> Node:
    path = f"{parent}/{node_id}" if parent else node_id
    if not isinstance(body, dict):
        raise ProcessGraphError(path, None, f"a node must be an object, got {type(body).__name__}")
    process_id = body.get("process_id")
    if not isinstance(process_id, str) or not process_id:
        raise ProcessGraphError(path, None, "missing \"process_id\"")
    if "arguments" not in body or not isinstance(body["arguments"], dict):
        raise ProcessGraphError(path, None, f"process {process_id!r}: missing \"arguments\" object")
    if "namespace" in body and body["namespace"] not in (None, "backend", "core"):
        raise ProcessGraphError(path, None, f"process {process_id!r} in namespace {body['namespace']!r} is not supported")
    spec = lookup(process_id)
    if spec is None:
        raise ProcessGraphError(path, None, f"unknown process {process_id!r}")
    raw_args = body["arguments"]
    known = [p.name for p in spec.params]
    for name in raw_args:
        if name not in known:
            raise ProcessGraphError(path, name, f"process {process_id!r} has no argument {name!r} "
                                                f"(it takes {', '.join(known) or 'none'})")
    for p in spec.params:
        if p.required and p.name not in raw_args:
            raise ProcessGraphError(path, p.name, f"missing required argument of process {process_id!r}")
    arguments = {}
    for name, value in raw_args.items():
        param = spec.param(name)
        cb_scope = scope
        if param.callback_params:
            cb_scope = None if scope is None else scope | frozenset(param.callback_params)
        elif param.kind == "callback":
            cb_scope = None          # the process did not declare its callback's parameters
        arguments[name] = _template(value, path, name, scope, cb_scope)
    return Node(node_id, path, process_id, arguments, spec, bool(body.get("result", False)))


def _template(value: Any, path: str, argument: str, scope: frozenset | None, cb_scope: frozenset | None) -> Any:
    """Replace the JSON reference objects in an argument value by FromNode/FromParameter/ProcessGraph."""
    if isinstance(value, dict):
        if "from_node" in value:
            if not isinstance(value["from_node"], str):
                raise ProcessGraphError(path, argument, f"from_node must be a node id string, got {value['from_node']!r}")
            return FromNode(value["from_node"])
        if "from_parameter" in value:
            name = value["from_parameter"]
            if not isinstance(name, str):
                raise ProcessGraphError(path, argument, f"from_parameter must be a string, got {name!r}")
            if scope is not None and name not in scope:
                known = ", ".join(sorted(scope)) or "none"
                raise ProcessGraphError(path, argument, f"from_parameter {name!r} is not defined here "
                                                        f"(parameters available: {known})")
            return FromParameter(name)
        if "from_argument" in value:
            raise ProcessGraphError(path, argument, "\"from_argument\" is not openEO 1.x: use from_node or from_parameter")
        if "process_graph" in value:
            return ProcessGraph._from_flat(value["process_graph"], path=path, scope=cb_scope)
        return {k: _template(v, path, argument, scope, cb_scope) for k, v in value.items()}
    if isinstance(value, list):
        return [_template(v, path, argument, scope, cb_scope) for v in value]
    return value


def _references(value: Any, kind: type) -> Iterator[Any]:
    """Every template object of ``kind`` in an argument value (not descending into callbacks)."""
    if isinstance(value, kind):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _references(v, kind)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _references(v, kind)


def _argument_of(arguments: Mapping[str, Any], node_id: str) -> str | None:
    return next((name for name, v in arguments.items()
                 if any(r.node_id == node_id for r in _references(v, FromNode))), None)


def _topological_order(nodes: Mapping[str, Node]) -> tuple[str, ...]:
    """Node ids, dependencies first; a cycle raises naming its nodes in order."""
    state: dict[str, int] = {}          # 1 = on the current path, 2 = done
    order: list[str] = []
    for start in nodes:
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(nodes[start].dependencies()))]
        state[start] = 1
        while stack:
            node_id, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                stack.pop()
                state[node_id] = 2
                order.append(node_id)
            elif state.get(dep) == 1:
                ids = [n for n, _ in stack]
                cycle = ids[ids.index(dep):] + [dep]
                raise ProcessGraphError(nodes[node_id].path, _argument_of(nodes[node_id].arguments, dep),
                                        "the graph has a cycle: " + " -> ".join(cycle))
            elif not state.get(dep):
                state[dep] = 1
                stack.append((dep, iter(nodes[dep].dependencies())))
    return tuple(order)
