"""The errors of ``jobs``: a malformed graph, openEO process errors, and what reading or planning raises.

Both are user errors (exit 2): they are raised on the driver while the graph is parsed or its cube
DAG is built, before any Spark work starts. Each names the node and the argument at fault; node ids
inside callbacks read ``"parent_node/child_node"``.

``ProcessError`` carries the openEO error name (``code``) from the process specification's
``exceptions`` (``DimensionNotAvailable``, ``BandExists``, ...). Array processes raise it without a
location; the evaluator adds the node id and argument with ``located``.

``TransientReadError`` is retried inside the task (kopf's ``TemporaryError`` idea);
``UnreadableAssetError`` is final and names the asset's href. ``BudgetExceeded`` refuses a job
before it starts, with the estimate in the message; ``TooManyParts`` an S3 output COG that S3's
multipart upload cannot hold, with what to do instead.
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
        where = _where(node_id, argument)
        super().__init__(f"{where}: {reason}" if where else reason, node_id=node_id, argument=argument, reason=reason)

    def located(self, node_id: str | None, argument: str | None = None) -> "ProcessGraphError":
        """This error with a location filled in (an existing location is kept)."""
        return type(self)(_join(node_id, self.node_id), self.argument or argument, self.reason)


class ProcessError(UserError):
    """Raised when a process rejects its arguments; ``code`` is the openEO exception name."""

    def __init__(self, code: str, reason: str, node_id: str | None = None, argument: str | None = None):
        where = _where(node_id, argument)
        super().__init__(f"{where}: {code}: {reason}" if where else f"{code}: {reason}",
                         code=code, reason=reason, node_id=node_id, argument=argument)

    def located(self, node_id: str | None, argument: str | None = None) -> "ProcessError":
        """This error with a location filled in (an existing location is kept)."""
        return ProcessError(self.code, self.reason, _join(node_id, self.node_id), self.argument or argument)


class BuildError(RunError):
    """Raised when building a node fails for a reason that is not the graph's fault (a sparkeo bug)."""

    def __init__(self, node_id: str, process_id: str, cause: BaseException):
        super().__init__(f"node {node_id!r}: process {process_id!r} failed: {str(cause) or repr(cause)}",
                         node_id=node_id, process_id=process_id, cause=cause)


def _join(outer: str | None, inner: str | None) -> str | None:
    # an inner location (a node inside a callback, already "parent/child") is the more precise one
    return inner or outer

class TransientReadError(RunError, OSError):
    """Raised when a read failed in a way that may succeed on retry (network, S3 5xx, timeout)."""

    def __init__(self, href: str, reason: str):
        super().__init__(f"transient read error on {href}: {reason}", href=href, reason=reason)


class UnreadableAssetError(RunError, OSError):
    """Raised when an asset cannot be read (missing, corrupt, retries exhausted)."""

    def __init__(self, href: str, reason: str):
        super().__init__(f"unreadable asset {href}: {reason}", href=href, reason=reason)


class TooManySkippedAssets(RunError):
    """Raised when ``soft_errors`` skipped more assets than the allowed fraction."""

    def __init__(self, skipped: list[str], total: int, allowed: float):
        first = ", ".join(skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        super().__init__(f"{len(skipped)} of {total} assets unreadable ({len(skipped) / max(total, 1):.0%}), "
                         f"more than soft_errors allows ({allowed:.0%}): {first}",
                         skipped=skipped, total=total, allowed=allowed)


class BudgetExceeded(UserError):
    """Raised when the planned input exceeds a ``max_input_pixels``/``max_input_bytes`` job option."""

    def __init__(self, option: str, estimate: int, cap: int):
        super().__init__(f"job refused: estimated {option.replace('max_', '')} {estimate:,} exceeds {option}={cap:,}",
                         option=option, estimate=estimate, cap=cap)


class TooManyParts(UserError):
    """Raised when one output COG to S3 needs more parts than one multipart upload may have
    (``jobs.results.parts.MAX_PARTS``), before any upload starts."""

    template = ("{uri}: one COG of {width:,} x {height:,} px needs {parts:,} parts in its S3 multipart upload, "
                "over S3's limit of {limit:,}: save it tiled (save_result option tile_grid, e.g. 'utm-10km': "
                "one COG per cell) or to a local or FUSE-mounted folder, which has no part limit")


class LoadError(UserError):
    """Raised when a ``load_collection`` argument is wrong or selects nothing; names node and argument."""

    def __init__(self, node_id: str, argument: str, reason: str):
        super().__init__(f"node {node_id!r}, argument {argument!r}: {reason}",
                         node_id=node_id, argument=argument, reason=reason)


class UdfError(UserError):
    """Raised when a user-defined function fails, runs too long or returns the wrong cube; names the
    ``run_udf`` node (``"apply1/runudf1"``) and, for an exception, the UDF's own traceback lines."""

    template = "node {node_id!r}: {reason}"
