"""Errors of the process graph engine: a malformed graph, and openEO process errors.

Both are user errors (exit 2): they are raised on the driver while the graph is parsed or its cube
DAG is built, before any Spark work starts. Each names the node and the argument at fault; node ids
inside callbacks read ``"parent_node/child_node"``.

``ProcessError`` carries the openEO error name (``code``) from the process specification's
``exceptions`` (``DimensionNotAvailable``, ``BandExists``, ...). Array processes raise it without a
location; the evaluator adds the node id and argument with ``located``.
"""
from __future__ import annotations

from sparkeo.errors import RunError, UserError


def _where(node_id: str | None, argument: str | None) -> str:
    parts = []
    if node_id:
        parts.append(f"node {node_id!r}")
    if argument:
        parts.append(f"argument {argument!r}")
    return ", ".join(parts)


class ProcessGraphError(UserError):
    """Raised when a process graph is malformed: bad JSON, unknown process, missing argument, cycle..."""

    code = "ProcessGraphInvalid"

    def __init__(self, node_id: str | None, argument: str | None, reason: str):
        self.node_id, self.argument, self.reason = node_id, argument, reason
        where = _where(node_id, argument)
        super().__init__(f"{where}: {reason}" if where else reason)

    def located(self, node_id: str | None, argument: str | None = None) -> "ProcessGraphError":
        """This error with a location filled in (an existing location is kept)."""
        return type(self)(_join(node_id, self.node_id), self.argument or argument, self.reason)


class ProcessError(UserError):
    """Raised when a process rejects its arguments; ``code`` is the openEO exception name."""

    def __init__(self, code: str, reason: str, node_id: str | None = None, argument: str | None = None):
        self.code, self.reason, self.node_id, self.argument = code, reason, node_id, argument
        where = _where(node_id, argument)
        super().__init__(f"{where}: {code}: {reason}" if where else f"{code}: {reason}")

    def located(self, node_id: str | None, argument: str | None = None) -> "ProcessError":
        """This error with a location filled in (an existing location is kept)."""
        return ProcessError(self.code, self.reason, _join(node_id, self.node_id), self.argument or argument)


class BuildError(RunError):
    """Raised when building a node fails for a reason that is not the graph's fault (a sparkeo bug)."""

    def __init__(self, node_id: str, process_id: str, cause: BaseException):
        self.node_id, self.process_id, self.cause = node_id, process_id, cause
        super().__init__(f"node {node_id!r}: process {process_id!r} failed: {str(cause) or repr(cause)}")


def _join(outer: str | None, inner: str | None) -> str | None:
    # an inner location (a node inside a callback, already "parent/child") is the more precise one
    return inner or outer
