"""Results whose COGs the executors write (``jobs.results.strips``, ``jobs.results.parts``).

``StripWork`` travels to the executors with the job: a task fills a ``StripBuffer`` with its tiles
and ``finish`` encodes the strip and hands it to the sink, returning a ``StripWritten`` (block
sizes, where the bytes and the strip's rows of the first level it left went).
``StripResultsWriter`` is the driver's side: a ``ResultsWriter`` that never stages a full raster;
``receive`` keeps what tasks return, ``convert`` has one task per file encode the levels after the
strips' (``encode_tail``) and stitches each COG, ``publish`` is the same as for
driver-written results (``job_metadata.json`` first, ``collection.json`` last; on S3 each COG is
copied server-side from its staging key when its turn comes). ``abort`` removes staged files,
aborts open multipart uploads and deletes completed staging objects.

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
from jobs.results.parts import (LocalParts, S3Parts, S3Staging, Stitch, StripRef, TailRef, complete_s3,
                                write_local)
from jobs.results.strips import Strip, StripBuffer, StripPlan, plan_strips, strips_of
from jobs.results.writer import ResultsWriter, canonical_dims, file_arrays, file_names
from sparkeo import storage


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
    """The executors' part: the strip plan, how tiles become file arrays, the output files, the sink."""

    plan: StripPlan
    dims: tuple[str, ...]
    names: tuple[str, ...]          # one output file per time label
    sink: LocalParts | S3Parts

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
        refs = tuple(self.sink.put(self.plan, name, index, e, settings) for name, e in zip(self.names, encoded))
        reduced = tuple(None if e.reduced is None else self.sink.stage_reduced(name, index, e.reduced, settings)
                        for name, e in zip(self.names, encoded))
        return StripWritten(index, refs, reduced)


@dataclass(frozen=True)
class TailJob:
    """The levels after the strips' of one output file, for one task: the strips' staged reduced rows."""

    plan: StripPlan
    name: str
    reduced: tuple[str, ...]
    sink: LocalParts | S3Parts


def encode_tail(job: TailJob, settings=None) -> TailRef:
    """Join the strips' reduced rows into the first level they left, compute and encode it and every
    smaller level (``encode_pyramid``), and stage the blocks, smallest level first (on an executor:
    the level is ``1 / 4**levels`` of the output, on its disk)."""
    layout, first = job.plan.layout, job.plan.levels
    level = np.concatenate([job.sink.load_reduced(r, settings) for r in job.reduced])
    sizes: list[list[int]] = [[] for _ in layout.levels]
    chunks = []
    with tempfile.TemporaryDirectory(prefix="sparkeo-tail-") as scratch:
        for li, data in encode_pyramid(level, layout, Path(scratch), 0, first):
            chunks.append(framed(data))
            sizes[li].append(len(data))
    return job.sink.put_tail(job.plan, job.name, b"".join(chunks), tuple(tuple(s) for s in sizes), settings)


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
        super().__init__(output, meta, grid, "GTiff", encode_threads)
        self.plan = plan_strips(self.layout, tasks, parallelism)
        self.strips = strips_of(self.plan, tasks)
        self.names = tuple(file_names(self.times or (None,)).values())
        self._checksum = checksum            # S3: sha-256 of a staged object (an executor reads it)
        self._remote = remote                # runs the tails (on executors)
        self._s3 = None if self._local else S3Staging.beside(output)
        if self._s3 is None:
            parts = self.staging / "parts"
            parts.mkdir()
            sink: LocalParts | S3Parts = LocalParts(str(parts))
        else:
            for name in self.names:
                self._s3.start_upload(name, COG_MEDIA_TYPE)
            sink = S3Parts(dict(self._s3.uploads), self._s3.prefix)
        self.work = StripWork(self.plan, canonical_dims(meta), self.names, sink)
        self._received: dict[int, StripWritten] = {}

    def convert(self) -> list[OutputFile]:
        """Stitch each COG from its tail and strips (all of them must have arrived)."""
        missing = sorted(set(range(self.plan.strips)) - set(self._received))
        if missing:
            raise RuntimeError(f"strips {missing} of the output were never written")
        header = CogHeader.plan(self.layout, self._opening.result()[1])
        strips = [self._received[i] for i in range(self.plan.strips)]
        tails: list = [None] * len(self.names)
        if self.plan.levels < len(self.layout.levels):
            tails = self._remote(encode_tail, [TailJob(self.plan, name, tuple(s.reduced[fi] for s in strips),
                                                       self.work.sink) for fi, name in enumerate(self.names)])
        files = []
        for fi, (label, name) in enumerate(zip(self.times or (None,), self.names)):
            refs = [s.refs[fi] for s in strips]
            stitch = Stitch.of(self.plan, header, tails[fi], refs, s3=self._s3 is not None)
            if self._s3 is None:
                target = self.staging / name
                with open(target, "wb") as fh:
                    checksum = write_local(fh, self.plan, stitch, tails[fi], refs)
                size = target.stat().st_size
            else:
                bucket, key, upload = self._s3.uploads.pop(name)
                size = complete_s3(self.plan, stitch, tails[fi], refs, bucket, key, upload)
                self._s3.completed[name] = f"s3://{bucket}/{key}"
                checksum = (self._checksum or object_checksum)(self._s3.completed[name])
            files.append(OutputFile(Path(name).stem, name, label, size, checksum))
        return files


def object_checksum(uri: str, settings=None) -> str:
    """``file:checksum`` of an S3 object, streamed (run where the bytes may go: an executor)."""
    bucket, key = storage.split_s3(uri)
    client = storage.s3_client() if settings is None else storage.s3_client_for(settings)
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    return multihash_of(body.iter_chunks(1 << 20))
