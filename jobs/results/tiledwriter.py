"""Tiled results (``save_result`` option ``tile_grid``, ``jobs.plan.cells``): one COG per cell and time
label, each written whole by the executor that computes the cell; the driver writes only the STAC
items, ``job_metadata.json`` and ``collection.json``.

``CellWork`` travels to the executors: a cell's arrays become COGs (``jobs.results.cog.write_cog``)
in the staging folder beside a local output (a ``local`` master: one file system) or uploaded to a
staging prefix beside an S3 output; the task returns each file's name, size and checksum. The
driver's ``TiledResultsWriter`` publishes them as ``ResultsWriter`` publishes its own files
(``job_metadata.json`` first, ``collection.json`` last; S3: a server-side copy from staging).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from jobs.cube.lazy import CubeMeta
from jobs.plan.grid import TileGrid
from jobs.results.checksum import multihash_sha256
from jobs.results.cog import CogLayout, GdalTags, write_cog
from jobs.results.documents import COG_MEDIA_TYPE, OutputFile
from jobs.results.parts import S3Staging
from jobs.results.strips import Strip
from jobs.results.stripwriter import StagedResultsWriter
from jobs.results.writer import canonical_dims, file_arrays, file_names, item_name
from sparkeo import storage
from sparkeo.contracts import COLLECTION_FILE, METADATA_FILE
from sparkeo.geometry import crs_text


def cell_file_name(label: str | None, labels: Sequence[str | None], index: tuple[int, int]) -> str:
    """``2021-06-01_r0c1.tif`` (or ``result_r0c1.tif`` when t was reduced): the slice's file name among
    ``labels`` (``jobs.results.writer.file_names``), then the cell's row and column."""
    stem = Path(file_names(labels or (None,))[label]).stem
    return f"{stem}_r{index[0]}c{index[1]}.tif"


@dataclass(frozen=True)
class CellsWritten:
    """What a task returns: the COGs of its cells (``OutputFile`` with the cell's grid)."""

    strip: int
    files: tuple[OutputFile, ...]
    nbytes: int = 0                 # no pixel reaches the driver


@dataclass(frozen=True)
class CellWork:
    """The executors' part: how tiles become files, the bands' tags, where files go."""

    layout: CogLayout               # width/height unused: each cell has its own
    dims: tuple[str, ...]
    labels: tuple[str | None, ...]
    bands: tuple[str, ...]
    folder: str | None              # local staging folder, or
    s3_prefix: str | None           # the S3 staging prefix (s3://bucket/prefix.staging-id/)

    def buffer(self, strip: Strip) -> list:
        return [strip.index]

    def put(self, buffer: list, task, values: np.ndarray) -> None:
        """Write the cell's COGs at once (into a local scratch folder until ``finish``)."""
        scratch = Path(tempfile.mkdtemp(prefix="sparkeo-cell-"))
        layout = CogLayout(task.window.width, task.window.height, self.layout.bands, self.layout.dtype,
                           self.layout.nodata, self.layout.resampling)
        tags = GdalTags.for_image(crs_text(task.grid.crs), task.grid.transform, self.bands)
        arrays = file_arrays(values, self.dims, len(self.labels), self.layout.dtype, self.layout.nodata)
        for label, array in zip(self.labels, arrays):
            name = cell_file_name(label, self.labels, task.index)
            path = scratch / name
            with open(path, "wb") as fh:
                write_cog(fh, layout, np.ascontiguousarray(array), tags, scratch, 1)
            buffer.append((OutputFile(Path(name).stem, name, label, path.stat().st_size,
                                      multihash_sha256(str(path)), COG_MEDIA_TYPE, task.grid), str(path)))

    def finish(self, buffer: list, settings=None) -> CellsWritten:
        """Move (local) or upload (S3) the cells' COGs to staging."""
        client = None if self.s3_prefix is None else storage.s3_client_for(settings) if settings else storage.s3_client()
        files = []
        for f, path in buffer[1:]:
            if client is None:
                os.replace(path, os.path.join(self.folder, f.name))
            else:
                bucket, key = storage.split_s3(storage.join(self.s3_prefix, f.name))
                client.upload_file(path, bucket, key, ExtraArgs={"ContentType": COG_MEDIA_TYPE})
            files.append(f)
        for scratch in {os.path.dirname(path) for _, path in buffer[1:]}:
            shutil.rmtree(scratch, ignore_errors=True)
        return CellsWritten(buffer[0], tuple(files))


class TiledResultsWriter(StagedResultsWriter):
    """A ``ResultsWriter`` for tiled output: the executors write every COG (``work``, ``strips``)."""

    def __init__(self, output: str, meta: CubeMeta, grid: TileGrid, cells: Sequence, groups: Sequence[Sequence]):
        self.cells = tuple(cells)
        super().__init__(output, meta, grid, "GTiff")
        self.strips = [Strip(i, 0, 0, tuple(g)) for i, g in enumerate(groups)]
        self._s3 = None if self._local else S3Staging.beside(output)
        labels = self.times or (None,)
        self.work = CellWork(self.layout, canonical_dims(meta), tuple(labels), self.bands,
                             None if self._s3 else str(self.staging),
                             None if self._s3 is None else self._s3.prefix)
        self._received: dict[int, CellsWritten] = {}

    def _names(self) -> tuple[str, ...]:
        labels = self.times or (None,)
        data = [cell_file_name(label, labels, c.index) for c in self.cells for label in labels]
        return (*data, *(item_name(n) for n in data), METADATA_FILE, COLLECTION_FILE)

    def convert(self) -> list[OutputFile]:
        files = [f for i in sorted(self._received) for f in self._received[i].files]
        if self._s3 is not None:
            for f in files:
                self._s3.completed[f.name] = storage.join(self._s3.prefix, f.name)
        return files
