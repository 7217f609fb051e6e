"""JSON documents from users (graphs, job options, catalogs): parsed with bounded nesting, or refused.

``json.loads`` raises ``RecursionError`` on text nested ~1,000 deep, and a document a little below that
still overflows the recursive walks that follow (graph parsing, callbacks, evaluation). ``loads``
turns both into one ``ValueError`` with a one-line reason, which every caller already maps to its
own ``UserError`` naming the file, node or option. Pure: no I/O.
"""
from __future__ import annotations

import json
from typing import Any

# Deeper than any real document: an openEO graph with callbacks five levels deep is ~25 levels of JSON.
# Low enough that the recursive walks over a parsed document stay far from Python's recursion limit.
MAX_DEPTH = 200


class JsonDocumentError(ValueError):
    """Raised when a document is not UTF-8, not JSON, or nested deeper than ``MAX_DEPTH``."""


def loads(data: str | bytes | bytearray) -> Any:
    """Parse ``data`` (text, or UTF-8 bytes); raises ``JsonDocumentError`` with a one-line reason."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonDocumentError(f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonDocumentError(f"nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise JsonDocumentError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    check_depth(value)
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise ``JsonDocumentError`` when ``value`` nests lists/objects deeper than ``limit``.

    Iterative, so that it is safe on any parsed document (also ones handed over as Python objects).
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            raise JsonDocumentError(f"nested more than {limit} levels deep")
        stack.extend((child, depth + 1) for child in children)
