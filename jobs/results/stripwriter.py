"""Results whose COGs the executors write (``jobs.results.strips``, ``jobs.results.parts``).

``StripWork`` travels to the executors with the job: a task fills a ``StripBuffer`` with its tiles
and ``finish`` encodes the strip and hands it to the sink, returning a ``StripWritten`` (block
sizes, where the bytes went, the strip's rows of the first level left to the driver).
``StripResultsWriter`` is the driver's side: a ``ResultsWriter`` that never stages a full raster;
``receive`` keeps what tasks return, ``convert`` stitches each COG, ``publish`` is the same as for
driver-written results (``job_metadata.json`` first, ``collection.json`` last; on S3 each COG is
copied server-side from its staging key when its turn comes). ``abort`` removes staged files,
aborts open multipart uploads and deletes completed staging objects.

netCDF output, and a local output folder with executors on other machines, keep the
driver-written ``ResultsWriter`` (``executor_writes``).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from jobs.cube.lazy import CubeMeta
from jobs.plan.grid import TileGrid
from jobs.results.checksum import multihash_of
from jobs.results.cog import CogHeader, encode_pyramid
from jobs.results.documents import COG_MEDIA_TYPE, OutputFile
from jobs.results.parts import LocalParts, S3Parts, Stitch, StripRef, complete_s3, write_local
from jobs.results.strips import Strip, StripBuffer, StripPlan, plan_strips, strips_of
from jobs.results.writer import ResultsWriter, canonical_dims, file_arrays, file_name
from sparkeo import storage

log = logging.getLogger(__name__)


def executor_writes(output: str, format: str, local_master: bool, enabled: bool = True) -> bool:
    """Whether the executors write the COGs: GeoTIFF output, to S3 or (one machine) a local folder."""
    return enabled and format != "netCDF" and (storage.is_s3(output) or local_master)


@dataclass(frozen=True)
class StripWritten:
    """What a strip's task returns: per output file, where its bytes went and its reduced rows."""

    strip: int
    refs: tuple[StripRef, ...]
    reduced: tuple[np.ndarray | None, ...]

    @property
    def nbytes(self) -> int:
        """Bytes this result carries to the driver (the reduced rows and the block sizes)."""
        sizes = sum(len(s) for ref in self.refs for s in ref.sizes)
        return sum(r.nbytes for r in self.reduced if r is not None) + 4 * sizes


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
        return StripWritten(index, refs, tuple(e.reduced for e in encoded))


class StripResultsWriter(ResultsWriter):
    """A ``ResultsWriter`` whose COGs the executors encode and stage (``work``, ``strips``)."""

    def __init__(self, output: str, meta: CubeMeta, grid: TileGrid, tasks: Sequence, parallelism: int,
                 encode_threads: int = 0, checksum: Callable[[str], str] | None = None):
        super().__init__(output, meta, grid, "GTiff", encode_threads)
        self.plan = plan_strips(self.layout, tasks, parallelism)
        self.strips = strips_of(self.plan, tasks)
        self.names = tuple(file_name(label) for label in (self.times or (None,)))
        self._checksum = checksum            # S3: sha-256 of a staged object (an executor reads it)
        self._uploads: dict[str, tuple[str, str, str]] = {}
        self._completed: dict[str, str] = {}  # file name -> staged S3 URI
        if self._local:
            parts = self.staging / "parts"
            parts.mkdir()
            sink: LocalParts | S3Parts = LocalParts(str(parts))
        else:
            sink = S3Parts(self._start_uploads())
        self.work = StripWork(self.plan, canonical_dims(meta), self.names, sink)
        self._received: dict[int, StripWritten] = {}

    def _open_all(self):
        """No staged rasters: only the georeferencing tags (see ``ResultsWriter._open_all``)."""
        from jobs.results.cog import GdalTags
        from sparkeo.geometry import crs_text

        return {}, GdalTags.for_image(crs_text(self.grid.crs), self.grid.transform, self.bands)

    def _start_uploads(self) -> dict[str, tuple[str, str, str]]:
        """One multipart upload per file, to a staging prefix beside the output (``<prefix>.staging-<id>/``)."""
        bucket, prefix = storage.split_s3(self.output)
        staging = f"{prefix.rstrip('/')}.staging-{uuid.uuid4().hex[:12]}/"
        client = storage.s3_client()
        for name in self.names:
            key = staging + name
            reply = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType=COG_MEDIA_TYPE)
            self._uploads[name] = (bucket, key, reply["UploadId"])
        return dict(self._uploads)

    def write_tile(self, task, values) -> None:
        raise RuntimeError("executors write these results: tiles never reach the driver")

    def receive(self, written: StripWritten) -> None:
        """Keep one strip's result (a retried task's later result replaces the earlier one)."""
        self._received[written.strip] = written

    def convert(self) -> list[OutputFile]:
        """Stitch each COG from the strips (all of them must have arrived)."""
        missing = sorted(set(range(self.plan.strips)) - set(self._received))
        if missing:
            raise RuntimeError(f"strips {missing} of the output were never written")
        gdal_tags = self._opening.result()[1]
        header = CogHeader.plan(self.layout, gdal_tags)
        strips = [self._received[i] for i in range(self.plan.strips)]
        files = []
        for fi, (label, name) in enumerate(zip(self.times or (None,), self.names)):
            refs = [s.refs[fi] for s in strips]
            stitch = Stitch.of(self.plan, header, self._driver_blocks([s.reduced[fi] for s in strips]), refs,
                               s3=not self._local)
            if self._local:
                target = self.staging / name
                with open(target, "wb") as fh:
                    checksum = write_local(fh, self.plan, stitch, refs)
                size = target.stat().st_size
            else:
                bucket, key, upload = self._uploads[name]
                size = complete_s3(self.plan, stitch, refs, bucket, key, upload)
                self._completed[name] = f"s3://{bucket}/{key}"
                del self._uploads[name]
                checksum = (self._checksum or _driver_checksum)(self._completed[name])
            files.append(OutputFile(Path(name).stem, name, label, size, checksum))
        return files

    def _driver_blocks(self, reduced: Sequence[np.ndarray | None]) -> dict[int, list[bytes]]:
        """The deflated blocks of the levels the driver finishes, from the strips' reduced rows."""
        first = self.plan.levels
        if first >= len(self.layout.levels):
            return {}
        level = np.concatenate([r for r in reduced if r is not None])
        blocks: dict[int, list[bytes]] = {}
        for li, data in encode_pyramid(level, self.layout, self._tmp, self.encode_threads, first):
            blocks.setdefault(li, []).append(data)
        return blocks

    def _put(self, name: str) -> None:
        """A COG staged on S3 is copied server-side to its place; everything else as before."""
        staged = self._completed.get(name)
        if staged is None:
            super()._put(name)
            return
        src_bucket, src_key = storage.split_s3(staged)
        bucket, key = storage.split_s3(storage.join(self.output, name))
        client = storage.s3_client()
        client.copy({"Bucket": src_bucket, "Key": src_key}, bucket, key,
                    ExtraArgs={"ContentType": COG_MEDIA_TYPE, "MetadataDirective": "REPLACE"})
        client.delete_object(Bucket=src_bucket, Key=src_key)
        del self._completed[name]

    def publish(self, files, metadata: Mapping[str, Any], time_range) -> list[str]:
        try:
            return super().publish(files, metadata, time_range)
        finally:
            self._drop_s3_staging()

    def abort(self) -> None:
        super().abort()
        self._drop_s3_staging()

    def _drop_s3_staging(self) -> None:
        """Abort the uploads still open and delete completed staging objects (none after a publish)."""
        if not self._uploads and not self._completed:
            return
        client = storage.s3_client()
        for bucket, key, upload in self._uploads.values():
            try:
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
            except Exception as exc:     # keep cleaning the others; the error goes to the log
                log.warning("could not abort the upload of %s: %s", key, str(exc) or repr(exc))
        self._uploads.clear()
        storage.delete_all(list(self._completed.values()))
        self._completed.clear()


def _driver_checksum(uri: str) -> str:
    """``file:checksum`` of a staged object read by the driver itself (when no executor does it)."""
    return object_checksum(uri)


def object_checksum(uri: str, settings=None) -> str:
    """``file:checksum`` of an S3 object, streamed (run where the bytes may go: an executor)."""
    bucket, key = storage.split_s3(uri)
    client = storage.s3_client() if settings is None else storage.s3_client_for(settings)
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    return multihash_of(body.iter_chunks(1 << 20))
