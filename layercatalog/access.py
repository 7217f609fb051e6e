"""Access groups of a collection (``_sparkeo.access.groups``), failing closed on a malformed block.

A well-formed block is ``{"groups": ["team-a", ...]}`` (an empty list: public); no block: public.
Anything else (groups a string, access a list, non-string or empty members, no ``groups`` key) hides
the collection from every caller: a string is never split into characters and a typo never opens a
private collection. The problem is told, naming the entry, only to callers in a group the block
names (``claimed``): the people it was meant for, who could see it otherwise. Everyone else gets the
answer an unknown id gets, so an error never reveals that a private collection exists. Pure: no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkeo.identity import Caller


@dataclass(frozen=True)
class Access:
    """Who may see a collection: ``groups`` (empty: public), or nobody when ``problem`` is set."""

    groups: tuple[str, ...] = ()
    problem: str | None = None
    claimed: tuple[str, ...] = ()     # with a problem: the group names the block seems to mean

    def admits(self, caller: Caller) -> bool:
        """True when ``caller`` may see and load the collection (never, for a malformed block)."""
        return self.problem is None and caller.may_see(self.groups)

    def tells(self, caller: Caller) -> bool:
        """True when ``caller`` is to be told about a malformed block (a member of a claimed group)."""
        return self.problem is not None and bool(caller.groups & set(self.claimed))


PUBLIC = Access()


def parse_access(block: Any) -> Access:
    """The ``Access`` of a ``_sparkeo.access`` value (``None``: the block is absent, public)."""
    if block is None:
        return PUBLIC
    if not isinstance(block, dict):
        return _malformed(f"'_sparkeo.access' must be an object with a 'groups' list, got {type(block).__name__}",
                          block)
    groups = block.get("groups")
    if not isinstance(groups, list):
        return _malformed(f"'_sparkeo.access.groups' must be a list of group names, got {type(groups).__name__}",
                          groups)
    if not all(isinstance(g, str) and g.strip() for g in groups):
        return _malformed("'_sparkeo.access.groups' must hold non-empty strings only", groups)
    return Access(groups=tuple(g.strip() for g in groups))


def _malformed(reason: str, raw: Any) -> Access:
    claimed = [raw] if isinstance(raw, str) else [g for g in raw if isinstance(g, str)] if isinstance(raw, list) else []
    return Access(problem=f"{reason}; the collection is hidden from everyone until this is fixed",
                  claimed=tuple(g.strip() for g in claimed if g.strip()))
