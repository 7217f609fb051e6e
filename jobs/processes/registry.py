"""The process registry: id -> ``ProcessSpec`` (parameters and implementation).

Two kinds of process:

- ``array``: pure functions over evaluated values (numbers, booleans, None for nodata, numpy
  arrays, ``LabeledArray``). Used inside callbacks (reducer, apply, mask conditions) and by the
  conformance tests. Vectorised: inside a callback over a dimension, ``data`` is a ``LabeledArray``
  whose axis 0 is that dimension and whose trailing axes are pixels; element-wise processes take
  arrays of pixels and broadcast.
- ``cube``: build ``LazyCube`` nodes on the driver (``load_collection``, ``reduce_dimension`` ...).
  Called as ``fn(build_ctx, node_id, **arguments)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

_MISSING = object()


@dataclass(frozen=True)
class Param:
    """One process parameter: required unless a default is given."""

    name: str
    default: Any = _MISSING
    kind: str = "any"        # any | number | boolean | string | array | cube | callback | object
    # for kind="callback": the parameters the callback receives (e.g. ("data", "context")), so the
    # graph validator can reject a from_parameter no enclosing callback defines; () = not checked
    callback_params: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclass(frozen=True)
class ProcessSpec:
    id: str
    params: tuple[Param, ...]
    fn: Callable
    kind: str = "array"      # array | cube
    summary: str = ""

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


REGISTRY: dict[str, ProcessSpec] = {}


def process(process_id: str, *params: Param, kind: str = "array", summary: str = "") -> Callable:
    """Decorator registering ``fn`` as the implementation of ``process_id``."""

    def register(fn: Callable) -> Callable:
        REGISTRY[process_id] = ProcessSpec(process_id, tuple(params), fn, kind, summary or (fn.__doc__ or "").strip())
        return fn

    return register


def lookup(process_id: str) -> ProcessSpec | None:
    import jobs.processes.all  # noqa: F401  (registers every module's processes)

    return REGISTRY.get(process_id)
