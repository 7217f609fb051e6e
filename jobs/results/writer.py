"""Writing a job's results: COGs, ``job_metadata.json``, then ``collection.json`` last.

Tiles arrive on the driver in any order and go into one raster per time label in a local staging
folder (a memory-mapped file); ``finish`` writes each as a Cloud-Optimized GeoTIFF (``jobs.results.cog``),
writes the metadata and the STAC results document, and publishes them into the results location
(``jobs.results.location``): only there and then does a re-run touch sparkeo's previous results. The old
``collection.json`` goes first (no reader sees a "complete" marker over a mix of old and new files),
then the previous results' files the new ones do not replace; the new files are renamed into a
local folder or uploaded through ``sparkeo.storage``, ``job_metadata.json`` first (the record of
what sparkeo owns there) and ``collection.json`` last. Files sparkeo did not write are never
deleted or overwritten.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from jobs.results.checksum import multihash_sha256
from jobs.results.cog import CogLayout, GdalTags, write_cog
from jobs.cube.lazy import CubeMeta, as_tbyx
from jobs.plan.grid import TileGrid
from jobs.results.location import ResultsLocation
from jobs.plan.planner import TileTask
from jobs.results.documents import (COG_MEDIA_TYPE, OutputFile, ResultsLayout, collection_document, inputs_of,
                                   is_date, item_document)
from sparkeo import storage
from sparkeo.contracts import COLLECTION_FILE, METADATA_FILE, item_file
from sparkeo.errors import UserError
from sparkeo.geometry import crs_text

def canonical_dims(meta: CubeMeta) -> tuple[str, ...]:
    """``meta.dims`` with the temporal dimension called ``t`` and the bands dimension ``bands``, whatever
    rename_dimension named them (the files have one time per file and bands inside)."""
    roles = {"temporal": "t", "bands": "bands"}
    out = []
    for d in meta.dims:
        role = "t" if d == "t" else "bands" if d == "bands" else roles.get(meta.dim_types.get(d, ""), d)
        out.append(role)
    if len(set(out)) != len(out) or any(d not in ("t", "bands", "y", "x") for d in out) or out[-2:] != ["y", "x"]:
        raise UserError(f"save_result: cannot write dimensions {meta.dims!r} as GeoTIFF "
                        "(at most one temporal and one bands dimension, then y, x)")
    return tuple(out)


def output_layout(meta: CubeMeta) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(time labels or None when t is reduced, band names) of a cube to be saved."""
    labels = {c: meta.labels[d] for c, d in zip(canonical_dims(meta), meta.dims) if d not in ("y", "x")}
    times = tuple(str(t) for t in labels["t"]) if "t" in labels else None
    bands = tuple(str(b) for b in labels["bands"]) if "bands" in labels else (meta.band_name or "band_1",)
    return times, bands


def output_dtype(meta: CubeMeta) -> tuple[str, float]:
    """Passed-through integer bands keep dtype and nodata; everything else is float32 with NaN."""
    dtype = np.dtype(meta.dtype or "float32")
    if dtype.kind in "iu" and meta.nodata is not None and not math.isnan(meta.nodata):
        return dtype.name, meta.nodata
    return "float32", math.nan


def cog_layout(meta: CubeMeta, grid: TileGrid) -> CogLayout:
    """The layout of each COG a cube saved on ``grid`` becomes (pure: known before anything is staged)."""
    dtype, nodata = output_dtype(meta)
    return CogLayout(grid.width, grid.height, len(output_layout(meta)[1]), dtype, nodata,
                     "mode" if dtype != "float32" else "average")


def result_names(meta: CubeMeta, format: str = "GTiff") -> tuple[str, ...]:
    """Every file a run saving ``meta`` in ``format`` writes: the data files, their STAC items,
    ``job_metadata.json`` and ``collection.json`` (known before Spark starts, for the location check)."""
    if format == "netCDF":
        from jobs.results.netcdf import NETCDF_NAME

        data = [NETCDF_NAME]
    else:
        data = list(file_names(output_layout(meta)[0] or (None,)).values())
    return (*data, *(item_name(n) for n in data), METADATA_FILE, COLLECTION_FILE)


def staging_folder(output: str, names: Sequence[str]) -> Path:
    """A new local folder to stage the results in (beside a local ``output``, so publishing is a
    rename); a location this run may not write ``names`` to is refused first, before anything is staged."""
    ResultsLocation.inspect(output).check_writable(names)
    if not storage.is_s3(output):
        parent = Path(output).resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{Path(output).name}.staging-", dir=parent))
    return Path(tempfile.mkdtemp(prefix="sparkeo-results-"))


def file_arrays(values: np.ndarray, dims: Sequence[str], files: int, dtype: str, nodata: float) -> list[np.ndarray]:
    """One tile's float32 array (cube ``dims`` order, canonical) as one (height, width, bands) array of
    the output ``dtype`` per file (time label)."""
    arr = as_tbyx(values, tuple(dims))
    out = []
    for ti in range(files):
        block = arr[ti]
        if dtype != "float32":
            # resampled (bilinear...) values of integer bands round half up like GDAL's warper
            block = np.where(np.isnan(block), nodata, np.floor(block + 0.5)).astype(dtype)
        out.append(np.moveaxis(block, 0, -1))
    return out


def item_name(data_file: str) -> str:
    """The STAC item document of one data file (``sparkeo.contracts.item_file``)."""
    return item_file(data_file)


def file_names(labels: Sequence[str | None]) -> dict[str | None, str]:
    """The data file of each time slice: ``result.tif`` without a time dimension, else the label's
    day, unless another label falls on the same day (hourly periods, two overpasses a day): then the
    whole label without its colons, so that no two slices share a file and one overwrites the other."""
    days = Counter(label[:10] for label in labels if label and is_date(label))
    names = {}
    for label in labels:
        if not label:
            names[label] = "result.tif"
        elif not is_date(label):
            names[label] = f"{label}.tif"
        else:
            names[label] = f"{label[:10] if days[label[:10]] == 1 else label.replace(':', '')}.tif"
    return names


class ResultsWriter:
    """Receives tiles (``write_tile``) and publishes the results (``finish``); ``abort`` cleans up."""

    def __init__(self, output: str, meta: CubeMeta, grid: TileGrid, format: str = "GTiff", encode_threads: int = 0):
        self.output, self.meta, self.grid, self.format = output, meta, grid, format
        self.encode_threads = encode_threads          # Settings.cog_encode_threads (0: one per core)
        self.times, self.bands = output_layout(meta)
        self.dtype, self.nodata = output_dtype(meta)
        self._files = file_names(self.times or (None,))
        self._local = not storage.is_s3(output)
        self.staging = staging_folder(output, self._names())
        self._tmp = Path(tempfile.mkdtemp(prefix="tiles-", dir=self.staging))
        self._media_types: dict[str, str] = {}
        self.layout = cog_layout(meta, grid)
        # The staging rasters (one per time label) are created on a thread while the job starts on
        # Spark: filling them with nodata and asking GDAL for the georeferencing and band-name tags
        # (PROJ set-up in a fresh driver: 20-40 ms) then overlaps the wait for the first tiles.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparkeo-staging")
        self._opening = pool.submit(self._open_all)
        pool.shutdown(wait=False)           # the thread ends with this one creation

    def _names(self) -> tuple[str, ...]:
        """Every file this writer publishes (``result_names``), checked against the location first."""
        return result_names(self.meta, self.format)

    def _open_all(self) -> tuple[dict, GdalTags]:
        staged = {label: self._open(label) for label in (self.times or (None,))}
        return staged, GdalTags.for_image(crs_text(self.grid.crs), self.grid.transform, self.bands)

    def _staged(self) -> dict:
        """The staging rasters by time label, once created (re-raises their creation's error)."""
        return self._opening.result()[0]

    def _open(self, label: str | None) -> np.ndarray:
        """A (height, width, bands) raster on disk, nodata wherever no tile is written: tiles nobody
        computed (no input there) read as nodata, not as zeros."""
        path = self._tmp / f"{self._files[label]}.raw"
        staged = np.memmap(path, dtype=self.dtype, mode="w+",
                           shape=(self.grid.height, self.grid.width, len(self.bands)))
        if self.nodata != 0:                # a new file reads as zeros already
            staged.fill(self.nodata)
        return staged

    def write_tile(self, task: TileTask, values: np.ndarray) -> None:
        """Write one tile's array (cube dims order) into the staging raster(s)."""
        w = task.window
        labels = self.times or (None,)
        for label, block in zip(labels, file_arrays(values, canonical_dims(self.meta), len(labels), self.dtype,
                                                    self.nodata)):
            self._staged()[label][w.row_off:w.row_off + w.height, w.col_off:w.col_off + w.width] = block

    def finish(self, metadata: Mapping[str, Any], time_range: tuple[str, str] | None) -> list[str]:
        """Convert to COGs, write job_metadata.json and collection.json (last), publish; returns the URIs."""
        return self.publish(self.convert(), metadata, time_range)

    def convert(self) -> list[OutputFile]:
        """Turn the staged rasters into the result files (COGs, or one netCDF file)."""
        staged, gdal_tags = self._opening.result()
        if self.format == "netCDF":
            files = [self._finish_netcdf()]         # all labels in one file: no COGs
        else:
            files = []
            for label, values in staged.items():
                name = self._files[label]
                target = self.staging / name
                with open(target, "wb") as fh:
                    write_cog(fh, self.layout, values, gdal_tags, self._tmp, self.encode_threads)
                files.append(OutputFile(Path(name).stem, name, label, target.stat().st_size,
                                        multihash_sha256(str(target))))
        shutil.rmtree(self._tmp, ignore_errors=True)
        return files

    def publish(self, files: Sequence[OutputFile], metadata: Mapping[str, Any],
                time_range: tuple[str, str] | None) -> list[str]:
        """Write job_metadata.json, the STAC items and collection.json (last) next to ``files`` (from
        ``convert``) and publish them all; returns the URIs."""
        inputs = metadata.get("input_items") or ()
        meta = {k: v for k, v in metadata.items() if k not in ("process_graph", "input_items")}
        meta["assets"] = [f.name for f in files]
        (self.staging / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=str))
        # On S3 the document names its assets by their S3 URLs; a local folder stays relocatable.
        layout = ResultsLayout(self.grid, self.bands, self.dtype, self.nodata, dict(self.meta.periods), self.times,
                               tuple(self.meta.dims))
        collection = collection_document(files, layout, metadata, time_range,
                                         href_base=None if self._local else self.output)
        items = []
        for f in files:   # one STAC item per COG, so the results load again as a collection (jobs chain)
            items.append(item_name(f.name))
            doc = item_document(f, collection, layout, inputs_of(f.label, layout, inputs))
            (self.staging / items[-1]).write_text(json.dumps(doc, indent=2))
        (self.staging / COLLECTION_FILE).write_text(json.dumps(collection, indent=2))
        self._media_types = {f.name: f.media_type for f in files}
        return self._publish([f.name for f in files], items)

    def _finish_netcdf(self) -> OutputFile:
        """All labels in one netCDF file."""
        from jobs.results.netcdf import NETCDF_MEDIA_TYPE, NETCDF_NAME, write_netcdf

        target = self.staging / NETCDF_NAME
        write_netcdf(target, list(self._staged().items()), self.bands, self.grid, self.dtype, self.nodata)
        return OutputFile(Path(NETCDF_NAME).stem, NETCDF_NAME, None, target.stat().st_size,
                          multihash_sha256(str(target)), NETCDF_MEDIA_TYPE)

    def abort(self) -> None:
        """Drop everything staged; the output location keeps no results document."""
        wait([self._opening])           # a creation still running would recreate files in staging
        shutil.rmtree(self.staging, ignore_errors=True)

    def _publish(self, cogs: Sequence[str], items: Sequence[str] = ()) -> list[str]:
        """Publish the staged files; returns the URIs of the COGs, job_metadata.json and collection.json.

        At every step the ``job_metadata.json`` at the location lists each sparkeo file there (the
        old one until the new replaces it), so a run that fails half-way leaves a location the
        next run still recognises as sparkeo's and may replace.
        """
        shown = [*cogs, METADATA_FILE, COLLECTION_FILE]
        names = [METADATA_FILE, *cogs, *items, COLLECTION_FILE]
        try:
            # Looked at again now: the location may have changed while Spark ran.
            location = ResultsLocation.inspect(self.output)
            location.check_writable(names)
            if COLLECTION_FILE in location.owned:       # the old results stop counting as complete
                storage.delete(storage.join(self.output, COLLECTION_FILE))
            # The previous run's files this one does not replace go first, while the old metadata
            # still lists them; files sparkeo did not write stay where they are.
            storage.delete_all([storage.join(self.output, n) for n in location.stale(names)])
            if self._local:
                Path(self.output).mkdir(parents=True, exist_ok=True)
            for name in names:                          # collection.json last: the results are complete
                self._put(name)
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
        return [storage.join(self.output, n) for n in shown]

    def _put(self, name: str) -> None:
        """Move one staged file into a local output folder (a rename), or upload it."""
        if self._local:
            os.replace(self.staging / name, Path(self.output) / name)
            return
        media_type = self._media_types.get(name, "application/json" if name.endswith(".json") else COG_MEDIA_TYPE)
        storage.upload_file(str(self.staging / name), storage.join(self.output, name), media_type)

