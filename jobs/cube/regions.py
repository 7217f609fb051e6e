"""The source windows of a task's current read region, each decoded once (see ``jobs.plan.blocks``).

While a task computes the tiles of one read region, every asset's window covering the whole region
is read once, in the file's own dtype, and each tile's read is a slice of it. Moving to the next
region drops the previous windows: a worker holds one region's windows at most.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from jobs.plan.grid import TileGrid

# (row0, col0, row1, col1) in source pixels, end exclusive
Span = tuple[int, int, int, int]


@dataclass
class RegionWindows:
    """The windows read for one region: (href, band) -> (span, array)."""

    region: TileGrid | None = None
    windows: dict[tuple[str, int], tuple[Span, np.ndarray]] = field(default_factory=dict)
    spans: dict[tuple, Span] = field(default_factory=dict)      # (source grid, margin) -> region span

    def enter(self, region: TileGrid) -> None:
        """Start reading for ``region`` (a no-op when it is the current one)."""
        if region != self.region:
            self.region = region
            self.windows.clear()
            self.spans.clear()

    def read(self, key: tuple[str, int], want: Span, region_span: Callable[[], Span],
             read: Callable[[Span], np.ndarray]) -> tuple[np.ndarray, bool]:
        """``want`` of ``key`` as a view of the region's window, reading that window first (the
        region's span joined with ``want``) unless it is there. Returns (array, read from file)."""
        held = self.windows.get(key)
        fresh = False
        if held is None or not _inside(want, held[0]):
            span = _join(region_span(), want)
            held = self.windows[key] = (span, read(span))
            fresh = True
        (r0, c0, _, _), arr = held
        return arr[want[0] - r0:want[2] - r0, want[1] - c0:want[3] - c0], fresh

    def forget(self, href: str) -> None:
        for key in [k for k in self.windows if k[0] == href]:
            del self.windows[key]


def _inside(a: Span, b: Span) -> bool:
    return a[0] >= b[0] and a[1] >= b[1] and a[2] <= b[2] and a[3] <= b[3]


def _join(a: Span, b: Span) -> Span:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])

