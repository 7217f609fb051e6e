"""Errors of the read path and of planning: what a tile task or the planner can raise.

``TransientReadError`` is retried inside the task (kopf's ``TemporaryError`` idea);
``UnreadableAssetError`` is final and names the asset's href. ``BudgetExceeded`` refuses a job
before it starts, with the estimate in the message.
"""
from __future__ import annotations

from sparkeo.errors import RunError, UserError


class TransientReadError(RunError, OSError):
    """Raised when a read failed in a way that may succeed on retry (network, S3 5xx, timeout)."""

    def __init__(self, href: str, reason: str):
        self.href, self.reason = href, reason
        RunError.__init__(self, f"transient read error on {href}: {reason}")


class UnreadableAssetError(RunError, OSError):
    """Raised when an asset cannot be read (missing, corrupt, retries exhausted)."""

    def __init__(self, href: str, reason: str):
        self.href, self.reason = href, reason
        RunError.__init__(self, f"unreadable asset {href}: {reason}")

    def __reduce__(self):
        # Exceptions pickle through their args; ours are (href, reason), not the message.
        return (type(self), (self.href, self.reason))


class TooManySkippedAssets(RunError):
    """Raised when ``soft_errors`` skipped more assets than the allowed fraction."""

    def __init__(self, skipped: list[str], total: int, allowed: float):
        self.skipped, self.total, self.allowed = skipped, total, allowed
        first = ", ".join(skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        RunError.__init__(
            self, f"{len(skipped)} of {total} assets unreadable ({len(skipped) / max(total, 1):.0%}), "
                  f"more than soft_errors allows ({allowed:.0%}): {first}")


class BudgetExceeded(UserError):
    """Raised when the planned input exceeds a ``max_input_pixels``/``max_input_bytes`` job option."""

    def __init__(self, option: str, estimate: int, cap: int):
        self.option, self.estimate, self.cap = option, estimate, cap
        UserError.__init__(self, f"job refused: estimated {option.replace('max_', '')} {estimate:,} "
                                 f"exceeds {option}={cap:,}")


class LoadError(UserError):
    """Raised when a ``load_collection`` argument is wrong or selects nothing; names node and argument."""

    def __init__(self, node_id: str, argument: str, reason: str):
        self.node_id, self.argument, self.reason = node_id, argument, reason
        UserError.__init__(self, f"node {node_id!r}, argument {argument!r}: {reason}")
