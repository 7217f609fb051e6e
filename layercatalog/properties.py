"""openEO ``load_collection(properties=...)`` callbacks -> ``PropertyFilter``s, and the CLI's
``--filter 'eo:cloud_cover<=50'`` expressions.

Supported callbacks: one comparison (``eq neq lt lte gt gte``) between the callback parameter and a
constant, in either operand order; ``between`` (``min``/``max``, optional ``exclude_max``);
``array_contains`` of the parameter in a constant list; and ``and`` of those. Anything else raises
``PropertyFilterError`` naming the property.
"""
from __future__ import annotations

import re
from typing import Any

from layercatalog.errors import PropertyFilterError
from layercatalog.model import PropertyFilter

COMPARISONS = ("eq", "neq", "lt", "lte", "gt", "gte")
# ``5 < value`` is ``value > 5``: the operator mirrored when the parameter is the right operand.
MIRRORED = {"eq": "eq", "neq": "neq", "lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte"}
EXPRESSION = re.compile(r"^\s*([A-Za-z0-9_:.\-]+)\s*(<=|>=|==|!=|=|<|>)\s*(.+?)\s*$")
SYMBOLS = {"<=": "lte", ">=": "gte", "==": "eq", "=": "eq", "!=": "neq", "<": "lt", ">": "gt"}


def filters_from_openeo(properties: dict[str, Any] | None) -> tuple[PropertyFilter, ...]:
    """Convert ``{"eo:cloud_cover": {"process_graph": {...}}, ...}`` to filters (all must hold)."""
    out: list[PropertyFilter] = []
    for name, callback in (properties or {}).items():
        graph = callback.get("process_graph") if isinstance(callback, dict) else None
        if not isinstance(graph, dict) or not graph:
            raise PropertyFilterError(name, "expected a callback {'process_graph': {...}}")
        result = [node_id for node_id, node in graph.items() if isinstance(node, dict) and node.get("result")]
        if len(result) != 1:
            raise PropertyFilterError(name, "the callback needs exactly one result node")
        out.extend(_node_filters(name, graph, result[0], seen=set()))
    return tuple(out)


def _node_filters(name: str, graph: dict, node_id: str, seen: set[str]) -> list[PropertyFilter]:
    if node_id in seen:
        raise PropertyFilterError(name, f"node {node_id!r} is part of a cycle")
    seen.add(node_id)
    node = graph.get(node_id)
    if not isinstance(node, dict):
        raise PropertyFilterError(name, f"node {node_id!r} does not exist")
    process, args = node.get("process_id"), node.get("arguments") or {}
    if process in COMPARISONS:
        x, y = args.get("x"), args.get("y")
        if _is_parameter(x) and _is_constant(y):
            return [PropertyFilter(name, process, y)]
        if _is_parameter(y) and _is_constant(x):
            return [PropertyFilter(name, MIRRORED[process], x)]
        raise PropertyFilterError(name, f"{process!r} must compare the property value with a constant")
    if process == "between":
        low, high = args.get("min"), args.get("max")
        if not (_is_parameter(args.get("x")) and _is_constant(low) and _is_constant(high)):
            raise PropertyFilterError(name, "'between' needs x = the property value and constant min/max")
        if args.get("exclude_max"):
            return [PropertyFilter(name, "gte", low), PropertyFilter(name, "lt", high)]
        return [PropertyFilter(name, "between", (low, high))]
    if process == "array_contains":
        data = args.get("data")
        if not (_is_parameter(args.get("value")) and isinstance(data, list)):
            raise PropertyFilterError(name, "'array_contains' needs a constant list and value = the property value")
        return [PropertyFilter(name, "in", tuple(data))]
    if process == "and":
        out = []
        for operand in (args.get("x"), args.get("y")):
            if not (isinstance(operand, dict) and "from_node" in operand):
                raise PropertyFilterError(name, "'and' operands must be comparisons (from_node)")
            out.extend(_node_filters(name, graph, operand["from_node"], seen))
        return out
    raise PropertyFilterError(name, f"process {process!r} is not supported in property filters "
                                    f"(use eq, neq, lt, lte, gt, gte, between, array_contains, and)")


def _is_parameter(value: Any) -> bool:
    return isinstance(value, dict) and "from_parameter" in value


def _is_constant(value: Any) -> bool:
    return value is None or isinstance(value, (int, float, str, bool))


def parse_filter_expression(text: str) -> PropertyFilter:
    """``'eo:cloud_cover<=50'`` -> ``PropertyFilter('eo:cloud_cover', 'lte', 50)`` (CLI ``--filter``)."""
    match = EXPRESSION.match(text or "")
    if not match:
        raise PropertyFilterError(str(text), "expected PROPERTY OP VALUE with OP one of <= >= < > = !=")
    name, symbol, raw = match.groups()
    return PropertyFilter(name, SYMBOLS[symbol], _literal(raw))


def _literal(raw: str) -> Any:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]           # quoted: always a string ('05.09' stays a baseline, not 5.09)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text
