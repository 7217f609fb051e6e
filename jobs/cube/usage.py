"""Usage counters a job accumulates per tile and reports in ``job_metadata.json``."""
from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class Usage:
    """Mergeable counters: each tile task fills one, the driver adds them up."""

    input_pixels: int = 0
    bytes_read: int = 0
    tiles: int = 0
    read_retries: int = 0
    # compressed source blocks (or strips) decoded; a block's top rows inflated alone for a halo strip
    # (jobs.cube.partial) count as their share of it
    blocks_read: float = 0
    cpu_seconds: float = 0.0
    skipped_assets: list[str] = field(default_factory=list)

    def add(self, other: "Usage") -> "Usage":
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            setattr(self, f.name, a + b)
        return self

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}
