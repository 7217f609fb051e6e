"""Who is calling: sparkeo does not authenticate, the gateway in front of it does (DESIGN.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from sparkeo.names import check_user_name


@dataclass(frozen=True)
class Caller:
    """The caller's user name and groups, as given by ``--user``/``--groups`` or the environment."""

    user: str = "anonymous"
    groups: frozenset[str] = frozenset()

    def __post_init__(self):
        # The user name becomes a ZooKeeper path segment and a label value: one rule, checked here.
        check_user_name(self.user)

    @classmethod
    def from_values(cls, user: str | None, groups: str | None) -> "Caller":
        """Build from flag values, falling back to ``SPARKEO_USER``/``SPARKEO_GROUPS``."""
        user = user or os.environ.get("SPARKEO_USER") or "anonymous"
        raw = groups if groups is not None else os.environ.get("SPARKEO_GROUPS", "")
        return cls(user=user, groups=frozenset(g.strip() for g in raw.split(",") if g.strip()))

    def may_see(self, access_groups: tuple[str, ...] | frozenset[str]) -> bool:
        """A collection with no access groups is public; otherwise the caller needs one of them."""
        return not access_groups or bool(self.groups & set(access_groups))

    def to_json(self) -> dict:
        return {"user": self.user, "groups": sorted(self.groups)}
