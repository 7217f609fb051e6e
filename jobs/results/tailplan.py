"""The stages that finish an executor-written COG after its strips: a tree of tail tasks, planned up front.

The strips (``jobs.results.strips``) encode levels ``0..levels-1`` and leave their rows of the next
level. One task joining a whole level grows with the output (at 100k x 100k px the level-2 raster is
25k x 25k float32, 2.5 GB per band and file), so while the level left is larger than
``TAIL_MAX_PIXELS`` another stage cuts it among tasks: a level-L raster is a ``CogLayout`` of its own
(level L's width and height, the same block; its levels are ``layout.levels[L:]``), so a stage is a
``StripPlan`` over level-L rows whose chunks (at most ``CHUNK_MAX_PIXELS``, at least one block row)
``encode_strip`` encodes like strips and whose rows of its next level feed the stage after. The
final tail (``jobs.results.stripwriter.encode_tail``) encodes what is left in one task per file.

Every (level, chunk) is one byte range of the file and, on S3, one part whose number is known
before any task runs: part 1 the header, part 2 the final tail, then each level from the
smallest, chunk after chunk, the stage that encoded it giving the chunks (``TailTree.file_order``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

from jobs.results.cog import CogLayout
from jobs.results.strips import MAX_STRIP_PIXELS, StripPlan, block_cuts

TAIL_MAX_PIXELS = 4096 * 4096           # per band and file: the final tail's level (64 MB float32)
CHUNK_MAX_PIXELS = MAX_STRIP_PIXELS     # per band and file: one stage task's rows, when a block row fits
FIRST_LEVEL_PART = 3                    # parts 1 and 2: the header and the final tail


def level_layout(layout: CogLayout, level: int) -> CogLayout:
    """Level ``level`` of ``layout`` as a raster of its own: its overviews are ``layout``'s after it."""
    height, width = layout.levels[level]
    return dataclasses.replace(layout, width=width, height=height)


@dataclass(frozen=True)
class Stage:
    """One round of tasks: ``plan`` cuts the level-``first`` raster (0: the output, the strips)."""

    first: int
    plan: StripPlan

    @property
    def after(self) -> int:
        """The first level this stage leaves to the next (the output's level count: none)."""
        return self.first + self.plan.levels

    def holds(self, level: int) -> bool:
        return self.first <= level < self.after


@dataclass(frozen=True)
class TailTree:
    """The strips and the stages after them; ``tail`` is the first level the final tail encodes."""

    layout: CogLayout
    stages: tuple[Stage, ...]

    @property
    def plan(self) -> StripPlan:
        """The strips' plan (stage 0)."""
        return self.stages[0].plan

    @property
    def tail(self) -> int:
        return self.stages[-1].after

    @property
    def has_tail(self) -> bool:
        return self.tail < len(self.layout.levels)

    def stage_of(self, level: int) -> int:
        return next(s for s, stage in enumerate(self.stages) if stage.holds(level))

    def file_order(self) -> Iterator[tuple[int, int, int]]:
        """(level, stage, chunk) of every piece the stages encode, in file order (after the tail)."""
        for level in reversed(range(self.tail)):
            s = self.stage_of(level)
            for chunk in range(self.stages[s].plan.strips):
                yield level, s, chunk

    def part_number(self, stage: int, chunk: int, level: int) -> int:
        """The S3 part of ``level`` (of the output) of ``chunk`` of ``stage``: in file order."""
        before = sum(self.stages[self.stage_of(above)].plan.strips for above in range(level + 1, self.tail))
        return FIRST_LEVEL_PART + before + chunk

    @property
    def last_part(self) -> int:
        """The strips' last piece of the full resolution: the end of the file."""
        return self.part_number(0, self.plan.strips - 1, 0)

    def inputs(self, stage: int, chunk: int) -> list[tuple[int, int, int]]:
        """What ``chunk`` of ``stage`` (>= 1) joins: (chunk of the stage before, first and end row
        within its reduced rows), top to bottom."""
        before, rows = self.stages[stage - 1].plan, self.stages[stage].plan.cuts
        top, bottom = rows[chunk], rows[chunk + 1]
        out = []
        for j in range(before.strips):
            start, end = before.rows(j, before.levels)
            if start < bottom and end > top:
                out.append((j, max(top, start) - start, min(bottom, end) - start))
        return out

    def tail_pixels(self) -> int:
        """Pixels (per band and file) of the level the final tail starts from (0: no tail)."""
        if not self.has_tail:
            return 0
        height, width = self.layout.levels[self.tail]
        return height * width


def plan_tail(plan: StripPlan, parallelism: int) -> TailTree:
    """The stages after the strips of ``plan``: while the level left is over ``TAIL_MAX_PIXELS``, one
    more stage cut like the strips (on block rows, power-of-two steps preferred, at least
    ``parallelism`` chunks where there are rows for them, each at most ``CHUNK_MAX_PIXELS`` or one
    block row). A stage of one chunk encodes every level left: then there is no final tail."""
    layout = plan.layout
    stages = [Stage(0, plan)]
    while stages[-1].after < len(layout.levels):
        level = stages[-1].after
        height, width = layout.levels[level]
        if height * width <= TAIL_MAX_PIXELS:
            break
        wanted = max(parallelism, -(-height * width // CHUNK_MAX_PIXELS), 1)
        inner = block_cuts(height, layout.block, wanted, parallelism, set())
        stages.append(Stage(level, StripPlan(level_layout(layout, level), (0, *inner, height))))
    return TailTree(layout, tuple(stages))
