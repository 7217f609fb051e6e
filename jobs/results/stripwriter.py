"""Results whose COGs the executors write (``jobs.results.strips``, ``jobs.results.parts``).

``StripWork`` travels to the executors with the job: a task fills a ``StripBuffer`` with its tiles
and ``finish`` encodes the strip and hands it to the sink, returning a ``StripWritten`` (block
sizes, where the bytes and the strip's rows of the first level it left went).
``StripResultsWriter`` is the driver's side: a ``ResultsWriter`` that never stages a full raster;
``receive`` keeps what tasks return, ``convert`` runs the stages after the strips
(``jobs.results.tailplan``: ``encode_chunk``, one task per chunk and file, when the level the strips
leave is large) and the final tail (``encode_tail``, one task per file, or on the driver for a small
local output) and stitches each COG, ``publish`` is the same as for
driver-written results (``job_metadata.json`` first, ``collection.json`` last; on S3 each COG is
copied server-side from its staging key when its turn comes). ``abort`` removes staged files,
aborts open multipart uploads and deletes completed staging objects. An S3 output whose COG needs
more parts than one upload may have is refused while the writer is built (``check_parts``), before
anything is staged.

netCDF output, a local output folder with executors on other machines, and settings that cap a
task's pixels keep the driver-written ``ResultsWriter`` (``executor_writes``).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from jobs.cube.lazy import CubeMeta
from jobs.plan.grid import TileGrid
from jobs.results.checksum import multihash_of
from jobs.results.cog import CogHeader, encode_pyramid, framed
from jobs.results.documents import COG_MEDIA_TYPE, OutputFile
from jobs.results.parts import (LocalParts, S3Parts, S3Staging, Stitch, StripRef, TailRef, check_parts,
                                complete_s3, write_local)
from jobs.results.strips import Strip, StripBuffer, StripPlan, encode_strip, plan_strips, strips_of
from jobs.results.tailplan import TailTree, plan_tail
from jobs.results.writer import ResultsWriter, canonical_dims, cog_layout, file_arrays, file_names
from sparkeo import storage

DRIVER_TAIL_PIXELS = 1024 * 1024        # per band and file: a local tail the driver encodes itself (4 MB)


def executor_writes(output: str, format: str, local_master: bool, enabled: bool = True,
                    task_max_pixels: int | None = None) -> bool:
    """Whether the executors write the COGs: GeoTIFF output, to S3 or (one machine) a local folder,
    and no cap on a task's pixels (``Settings.task_max_pixels``, which the local web API sets so that a
    synchronous request waits for at most one tile's task): a strip task holds whole block rows
    of the output, at least a row of read regions, and cannot be cut below that; the driver-written
    path groups tiles under the cap."""
    return enabled and task_max_pixels is None and format != "netCDF" and (storage.is_s3(output) or local_master)


@dataclass(frozen=True)
class StripWritten:
    """What a strip's task returns: per output file, where its bytes went and its reduced rows."""

    strip: int
    refs: tuple[StripRef, ...]
    reduced: tuple[str | None, ...]         # where its reduced rows are staged, per file

    @property
    def nbytes(self) -> int:
        """Bytes this result carries to the driver: block sizes and names, no pixel."""
        sizes = sum(len(s) for ref in self.refs for s in ref.sizes)
        return 4 * sizes + sum(len(r or "") + len(ref.path or "") + sum(map(len, ref.etags))
                               for r, ref in zip(self.reduced, self.refs))


@dataclass(frozen=True)
class StripWork:
    """The executors' part: the strips and stages, how tiles become file arrays, the output files, the sink."""

    tree: TailTree
    dims: tuple[str, ...]
    names: tuple[str, ...]          # one output file per time label
    sink: LocalParts | S3Parts

    @property
    def plan(self) -> StripPlan:
        return self.tree.plan

    def buffer(self, strip: Strip) -> StripBuffer:
        return StripBuffer(self.plan, strip, len(self.names))

    def put(self, buffer: StripBuffer, task, values: np.ndarray) -> None:
        """Paste one computed tile (float32, cube dims order) into the strip."""
        layout = self.plan.layout
        buffer.put(task.window, file_arrays(values, self.dims, len(self.names), layout.dtype, layout.nodata))

    def finish(self, buffer: StripBuffer, settings=None) -> StripWritten:
        """Encode the strip of every file and hand it to the sink (``settings``: the job's, for S3)."""
        encoded = buffer.encode()
        index = buffer.strip.index
        refs = tuple(self.sink.put(self.tree, 0, name, index, e, settings) for name, e in zip(self.names, encoded))
        reduced = tuple(None if e.reduced is None else self.sink.stage_reduced(name, f"0-{index:05d}", e.reduced,
                                                                                 settings)
                        for name, e in zip(self.names, encoded))
        return StripWritten(index, refs, reduced)


@dataclass(frozen=True)
class ChunkJob:
    """One chunk of a stage after the strips (``jobs.results.tailplan``) of one output file, for one
    task: the staged reduced rows of the stage before, one per chunk of it."""

    tree: TailTree
    stage: int
    chunk: int
    name: str
    reduced: tuple[str, ...]
    sink: LocalParts | S3Parts


def encode_chunk(job: ChunkJob, settings=None) -> tuple[StripRef, str | None]:
    """Join the chunk's rows from the pieces of the stage before, encode the levels it covers in
    whole blocks as a strip is (``encode_strip``), hand them to the sink and stage its rows of the
    next level; returns where the bytes and those rows went."""
    stage = job.tree.stages[job.stage]
    values = np.concatenate([job.sink.load_reduced(job.reduced[j], settings, rows=(start, end))
                             for j, start, end in job.tree.inputs(job.stage, job.chunk)])
    encoded = encode_strip(stage.plan, values)
    ref = job.sink.put(job.tree, job.stage, job.name, job.chunk, encoded, settings)
    if encoded.reduced is None:
        return ref, None
    return ref, job.sink.stage_reduced(job.name, f"{job.stage}-{job.chunk:05d}", encoded.reduced, settings)


@dataclass(frozen=True)
class TailJob:
    """The levels after the stages' of one output file, for one task: the last stage's staged reduced rows."""

    tree: TailTree
    name: str
    reduced: tuple[str, ...]
    sink: LocalParts | S3Parts


def encode_tail(job: TailJob, settings=None) -> TailRef:
    """Join the last stage's reduced rows into the first level it left, compute and encode it and
    every smaller level (``encode_pyramid``), and stage the blocks, smallest level first (at most
    ``TAIL_MAX_PIXELS`` per band, on the disk of the executor or the driver that runs it)."""
    layout = job.tree.layout
    level = np.concatenate([job.sink.load_reduced(r, settings) for r in job.reduced])
    sizes: list[list[int]] = [[] for _ in layout.levels]
    chunks = []
    with tempfile.TemporaryDirectory(prefix="sparkeo-tail-") as scratch:
        for li, data in encode_pyramid(level, layout, Path(scratch), 0, job.tree.tail):
            chunks.append(framed(data))
            sizes[li].append(len(data))
    return job.sink.put_tail(job.name, b"".join(chunks), tuple(tuple(s) for s in sizes), settings)


def in_process(fn: Callable, items: Sequence) -> list:
    """Run ``fn`` on each item here (without Spark; ``jobs.spark.remote.remote_map`` runs them as tasks)."""
    return [fn(item) for item in items]


class StagedResultsWriter(ResultsWriter):
    """Results the executors write: no staged rasters on the driver, tasks' results ``receive``d by
    strip index, S3 objects staged beside the output (``self._s3``) and copied into place when
    publishing reaches them; a failed run drops everything staged."""

    _s3: S3Staging | None = None

    def _open_all(self):
        """No staged rasters: only the georeferencing tags (see ``ResultsWriter._open_all``)."""
        from jobs.results.cog import GdalTags
        from sparkeo.geometry import crs_text

        return {}, GdalTags.for_image(crs_text(self.grid.crs), self.grid.transform, self.bands)

    def write_tile(self, task, values) -> None:
        raise RuntimeError("executors write these results: tiles never reach the driver")

    def receive(self, written) -> None:
        """Keep one task's result by its strip (a retried task's later result replaces the earlier one)."""
        self._received[written.strip] = written

    def _put(self, name: str) -> None:
        """A file staged on S3 is copied server-side to its place; everything else as before."""
        if self._s3 is None or not self._s3.copy(name, storage.join(self.output, name)):
            super()._put(name)

    def publish(self, files, metadata: Mapping[str, Any], time_range) -> list[str]:
        try:
            return super().publish(files, metadata, time_range)
        finally:
            if self._s3 is not None:        # staged objects copied or not: none stays (reduced rows)
                self._s3.drop(everything=True)

    def abort(self) -> None:
        super().abort()
        if self._s3 is not None:
            self._s3.drop(everything=True)


class StripResultsWriter(StagedResultsWriter):
    """A ``ResultsWriter`` whose COGs the executors encode and stage (``work``, ``strips``)."""

    def __init__(self, output: str, meta: CubeMeta, grid: TileGrid, tasks: Sequence, parallelism: int,
                 encode_threads: int = 0, checksum: Callable[[str], str] | None = None,
                 remote: Callable[[Callable, Sequence], list] = in_process):
        plan = plan_strips(cog_layout(meta, grid), tasks, parallelism)
        tree = plan_tail(plan, parallelism)
        if storage.is_s3(output):
            check_parts(output, tree)       # refused before any folder, staged object or upload exists
        super().__init__(output, meta, grid, "GTiff", encode_threads)
        self.plan, self.tree = plan, tree
        self.strips = strips_of(self.plan, tasks)
        self.names = tuple(file_names(self.times or (None,)).values())
        self._checksum = checksum            # S3: sha-256 of a staged object (an executor reads it)
        self._remote = remote                # runs the stages and tails (on executors)
        self._s3 = None if self._local else S3Staging.beside(output)
        if self._s3 is None:
            parts = self.staging / "parts"
            parts.mkdir()
            sink: LocalParts | S3Parts = LocalParts(str(parts))
        else:
            for name in self.names:
                self._s3.start_upload(name, COG_MEDIA_TYPE)
            sink = S3Parts(dict(self._s3.uploads), self._s3.prefix)
        self.work = StripWork(self.tree, canonical_dims(meta), self.names, sink)
        self._received: dict[int, StripWritten] = {}

    def convert(self) -> list[OutputFile]:
        """Run the stages after the strips and the tails, and stitch each COG (every strip must have arrived)."""
        missing = sorted(set(range(self.plan.strips)) - set(self._received))
        if missing:
            raise RuntimeError(f"strips {missing} of the output were never written")
        header = CogHeader.plan(self.layout, self._opening.result()[1])
        strips = [self._received[i] for i in range(self.plan.strips)]
        refs, reduced = self._stages([[s.refs[fi] for s in strips] for fi in range(len(self.names))],
                                     [tuple(s.reduced[fi] for s in strips) for fi in range(len(self.names))])
        tails: list = [None] * len(self.names)
        if self.tree.has_tail:
            tails = self._tail_runner()(encode_tail, [TailJob(self.tree, name, reduced[fi], self.work.sink)
                                                      for fi, name in enumerate(self.names)])
        files = []
        for fi, (label, name) in enumerate(zip(self.times or (None,), self.names)):
            stitch = Stitch.of(self.tree, header, tails[fi], refs[fi], s3=self._s3 is not None)
            if self._s3 is None:
                target = self.staging / name
                with open(target, "wb") as fh:
                    checksum = write_local(fh, self.tree, stitch, tails[fi], refs[fi])
                size = target.stat().st_size
            else:
                bucket, key, upload = self._s3.uploads.pop(name)
                size = complete_s3(self.tree, stitch, tails[fi], refs[fi], bucket, key, upload)
                self._s3.completed[name] = f"s3://{bucket}/{key}"
                checksum = (self._checksum or object_checksum)(self._s3.completed[name])
            files.append(OutputFile(Path(name).stem, name, label, size, checksum))
        return files

    def _stages(self, refs: list[list[StripRef]], reduced: list[tuple[str, ...]]
                ) -> tuple[list[list[list[StripRef]]], list[tuple[str, ...]]]:
        """Run the stages after the strips, one Spark job each (a task per chunk and file) from the
        strips' ``refs`` and ``reduced`` rows per file; returns per file the pieces of every stage
        (the strips' first) and the last stage's reduced rows."""
        names = range(len(self.names))
        pieces = [[refs[fi]] for fi in names]
        for stage in range(1, len(self.tree.stages)):
            chunks = self.tree.stages[stage].plan.strips
            done = self._remote(encode_chunk, [ChunkJob(self.tree, stage, c, name, reduced[fi], self.work.sink)
                                               for fi, name in enumerate(self.names) for c in range(chunks)])
            for fi in names:
                mine = done[fi * chunks:(fi + 1) * chunks]
                pieces[fi].append([ref for ref, _ in mine])
                reduced[fi] = tuple(r for _, r in mine)
        return pieces, reduced

    def _tail_runner(self) -> Callable[[Callable, Sequence], list]:
        """Where the final tails run: on the driver (``in_process``) for a local output whose tail
        starts from at most ``DRIVER_TAIL_PIXELS`` per band and file, else as one Spark job.

        One Spark job costs ~50-100 ms of serial time (0.056-0.115 s of a 0.08-0.16 s ``convert`` at
        2048 x 2048 px, whose tail starts from 256 x 256 px), while the driver encodes at most 4 MB
        per float32 band that the strips staged on the local disk it shares with the executors (a
        ``local`` master). S3 output keeps the executors: there the rows and the part would cross
        the network to and from the driver."""
        if self._s3 is None and self.tree.tail_pixels() <= DRIVER_TAIL_PIXELS:
            return in_process
        return self._remote


def object_checksum(uri: str, settings=None) -> str:
    """``file:checksum`` of an S3 object, streamed (run where the bytes may go: an executor)."""
    bucket, key = storage.split_s3(uri)
    client = storage.s3_client() if settings is None else storage.s3_client_for(settings)
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    return multihash_of(body.iter_chunks(1 << 20))
