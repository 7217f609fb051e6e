"""The STAC documents of a job's results: the collection (openEO batch-job results) and one item per file.

Pure: dicts in, dicts out, no I/O. Every document validates against the STAC 1.1.0 core schemas and
the extension versions in ``STAC_EXTENSIONS`` (projection v2: ``proj:code``, or ``proj:wkt2`` for a
CRS without an EPSG code; there is no ``proj:epsg``). Each item carries its own time: a date label is
its ``datetime``; an aggregated period label (``2023-06``) spans its period, with ``datetime`` the
period's start, and says when the period had no observation (its pixels are nodata, as openEO
``aggregate_temporal_period`` prescribes).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from jobs.plan.formats import BY_NAME
from jobs.plan.grid import TileGrid
from jobs.plan.timelabels import TIME_LABEL_KEY, LabelPeriod, parse_instant
from sparkeo import storage
from sparkeo.contracts import COLLECTION_FILE, METADATA_FILE, PROVENANCE_KEY, JobState, item_file
from sparkeo.geometry import epsg_code

STAC_VERSION = "1.1.0"
COG_MEDIA_TYPE = BY_NAME["GTiff"].media_type


@dataclass(frozen=True)
class OutputFile:
    """One written COG: its asset key, file name, time label (None when t was reduced), size, checksum."""

    key: str
    name: str
    label: str | None
    size: int
    checksum: str               # sha2-256 multihash, hex
    media_type: str = COG_MEDIA_TYPE
    grid: "TileGrid | None" = None  # a tiled output's tile (``tile_grid``); None: the job's grid

STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
]
# Item properties the asset also carries in the collection document (one place to look for each).
TIME_KEYS = ("datetime", "start_datetime", "end_datetime")
PROJ_KEYS = ("proj:code", "proj:wkt2", "proj:shape", "proj:transform", "proj:bbox")
EMPTY_PERIOD_NOTE = ("no valid observation in this period: every pixel is nodata "
                     "(openEO aggregate_temporal_period emits empty periods as nodata)")


@dataclass(frozen=True)
class ResultsLayout:
    """What the documents describe: the grid, the bands with their dtype and nodata, and the time
    periods of aggregated labels (label -> ``LabelPeriod``)."""

    grid: TileGrid
    bands: tuple[str, ...]
    dtype: str
    nodata: float
    periods: Mapping[str, LabelPeriod] = field(default_factory=dict)
    times: tuple[str, ...] | None = None            # the t labels; None: t was reduced (or unknown)
    dims: tuple[str, ...] = ("t", "bands", "y", "x")  # the saved cube's dimensions


def cube_dimensions(layout: ResultsLayout, files: Sequence["OutputFile"]) -> dict:
    """The saved cube's dimensions as openEO describes collections (``cube:dimensions``): x and y with
    extent, step and CRS, t with its labels, bands with their names; a dimension the cube did not have
    (t reduced, bands dropped) is absent, so that ``load_stac`` gives back a cube with the same
    dimensions. Not declared as the datacube extension: openEO's own collection metadata carries it
    the same way, and this project validates only against the extension schemas it ships."""
    grid = layout.grid
    w, s, e, n = grid.bounds
    epsg = epsg_code(grid.crs)
    crs = epsg if epsg is not None else grid.crs.to_wkt()
    out = {"x": {"type": "spatial", "axis": "x", "extent": [w, e], "step": abs(grid.transform[0]),
                 "reference_system": crs},
           "y": {"type": "spatial", "axis": "y", "extent": [s, n], "step": abs(grid.transform[4]),
                 "reference_system": crs}}
    labels = layout.times if layout.times is not None else list(dict.fromkeys(f.label for f in files
                                                                            if f.label is not None))
    if "t" in layout.dims and labels:
        out["t"] = {"type": "temporal", "values": list(labels)}
    if "bands" in layout.dims:
        out["bands"] = {"type": "bands", "values": list(layout.bands)}
    return out


def projection(grid: TileGrid) -> dict:
    """The projection v2 fields of ``grid``: ``proj:code`` (``proj:wkt2`` when there is no EPSG code)."""
    epsg = epsg_code(grid.crs)
    crs = {"proj:code": f"EPSG:{epsg}"} if epsg is not None else {"proj:wkt2": grid.crs.to_wkt()}
    return {**crs, "proj:shape": list(grid.shape), "proj:transform": list(grid.transform),
            "proj:bbox": list(grid.bounds)}


def time_of(label: str | None, layout: ResultsLayout, time_range: tuple[str, str] | None) -> dict:
    """``datetime`` or ``start_datetime``/``end_datetime`` of one file: a date label is its own datetime,
    a period label spans its period, no label (t reduced) spans the inputs' range."""
    period = layout.periods.get(label) if label is not None else None
    if period is not None:
        return {"datetime": _instant(period.start), "start_datetime": _instant(period.start),
                "end_datetime": _inclusive_end(period.end)}
    if label is not None and is_date(label):
        return {"datetime": _datetime(label)}
    if time_range:
        return {"start_datetime": _datetime(time_range[0]), "end_datetime": _end_of(time_range[1])}
    return {}


def band_entries(layout: ResultsLayout) -> dict:
    """The bands of one file for STAC 1.1 (``bands``) and STAC 1.0 readers (``raster:bands``, ``eo:bands``)."""
    nodata = "nan" if math.isnan(layout.nodata) else layout.nodata
    return {
        "bands": [{"name": b, "data_type": layout.dtype, "nodata": nodata} for b in layout.bands],
        "raster:bands": [{"name": b, "data_type": layout.dtype, "nodata": nodata} for b in layout.bands],
        "eo:bands": [{"name": b} for b in layout.bands],
    }


def collection_document(files: Sequence["OutputFile"], layout: ResultsLayout, metadata: Mapping[str, Any],
                        time_range: tuple[str, str] | None, href_base: str | None = None) -> dict:
    """The openEO API 1.2 batch-job results document: a STAC Collection with one asset per file.

    Hrefs are relative (``./name``), or absolute below ``href_base`` (the S3 prefix) when given.
    Provenance: ``sparkeo:provenance`` holds the graph's sha256 and the graph itself, the input item
    ids, the versions and the layer catalog; each item links its inputs (``item_document``).
    """
    def href(name: str) -> str:
        return storage.join(href_base, name) if href_base else f"./{name}"

    grid = layout.grid
    assets = {}
    times = []
    for f in files:
        when = time_of(f.label, layout, time_range)
        times.append(when)
        asset = {"href": href(f.name), "type": f.media_type, "roles": ["data"], "title": f.label or f.key,
                 "file:size": f.size, "file:checksum": f.checksum, **projection(f.grid or grid), **band_entries(layout),
                 **when}
        if f.label is not None and not is_date(f.label):
            asset[TIME_LABEL_KEY] = f.label
        assets[f.key] = asset
    job_id = metadata.get("job_id", "job")
    return {
        "type": "Collection", "stac_version": STAC_VERSION, "stac_extensions": STAC_EXTENSIONS,
        "id": job_id, "title": f"sparkeo job {job_id}",
        "description": f"Results of sparkeo job {job_id}", "license": "proprietary",
        "extent": {"spatial": {"bbox": [list(grid.bounds_in(4326))]}, "temporal": {"interval": [_interval(times)]}},
        "summaries": {"eo:bands": [{"name": b} for b in layout.bands]},
        "cube:dimensions": cube_dimensions(layout, files),
        "openeo:status": JobState.FINISHED.value,
        PROVENANCE_KEY: {
            "graph_sha256": metadata.get("graph_sha256"), "process_graph": metadata.get("process_graph"),
            "derived_from": list(metadata.get("inputs", [])),
            "versions": metadata.get("versions", {}), "apply_scale": metadata.get("apply_scale", {}),
            "catalog": metadata.get("catalog"), "grid": grid.to_dict(),
        },
        "links": [{"rel": "self", "href": href(COLLECTION_FILE), "type": "application/json"},
                  {"rel": "root", "href": href(COLLECTION_FILE), "type": "application/json"},
                  {"rel": "related", "href": href(METADATA_FILE), "type": "application/json",
                   "title": "job metadata"}]
                 + [{"rel": "item", "href": href(item_file(f.name)), "type": "application/geo+json"} for f in files],
        "assets": assets,
    }


def item_document(f: "OutputFile", collection: Mapping[str, Any], layout: ResultsLayout,
                  input_hrefs: Sequence[str] = ()) -> dict:
    """The STAC item of one result file: its asset as in the collection (under the key ``data``), its
    own time, and a ``derived_from`` link to each input item it was computed from."""
    asset = dict(collection["assets"][f.key])
    w, s, e, n = f.grid.bounds_in(4326) if f.grid is not None else collection["extent"]["spatial"]["bbox"][0]
    props = {k: asset.pop(k) for k in TIME_KEYS if k in asset}
    props.setdefault("datetime", None)
    props.update({k: asset[k] for k in PROJ_KEYS if k in asset})
    period = layout.periods.get(f.label) if f.label is not None else None
    if period is not None:
        props["sparkeo:observations"] = period.observations
        if period.observations == 0:
            props["description"] = EMPTY_PERIOD_NOTE
    if f.label is not None:
        props["title"] = f.label
        props[TIME_LABEL_KEY] = f.label
    root = _sibling(collection, COLLECTION_FILE)
    return {
        "type": "Feature", "stac_version": STAC_VERSION, "stac_extensions": STAC_EXTENSIONS,
        "id": f"{collection['id']}_{f.key}", "collection": collection["id"],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "bbox": [w, s, e, n], "properties": props,
        "links": [{"rel": "collection", "href": root, "type": "application/json"},
                  {"rel": "parent", "href": root, "type": "application/json"},
                  {"rel": "root", "href": root, "type": "application/json"}]
                 + [{"rel": "derived_from", "href": h, "type": "application/geo+json"} for h in input_hrefs],
        "assets": {"data": asset},
    }


def inputs_of(label: str | None, layout: ResultsLayout, inputs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The hrefs of the input items one result file was computed from: those of its time slice
    (a date label), of its period (an aggregated label), or all of them (t reduced, or a label
    renamed so that it names no input). ``inputs``: ``{"id", "href", "label", "datetime"}`` each."""
    period = layout.periods.get(label) if label is not None else None
    if period is not None:
        chosen = [i for i in inputs if period.start <= parse_instant(i["datetime"]) < period.end]
    elif label is not None:
        chosen = [i for i in inputs if i.get("label") == label] or list(inputs)
    else:
        chosen = list(inputs)
    return list(dict.fromkeys(i["href"] for i in chosen if i.get("href")))


def _sibling(collection: Mapping[str, Any], name: str) -> str:
    """``name`` beside the collection document, as the collection's own hrefs are written."""
    self_href = next(link["href"] for link in collection["links"] if link["rel"] == "self")
    return self_href[:len(self_href) - len(COLLECTION_FILE)] + name


def _interval(times: Sequence[Mapping[str, str]]) -> list[str | None]:
    starts = [t.get("start_datetime") or t.get("datetime") for t in times]
    ends = [t.get("end_datetime") or t.get("datetime") for t in times]
    starts, ends = [s for s in starts if s], [e for e in ends if e]
    return [min(starts) if starts else None, max(ends) if ends else None]


def is_date(label: str) -> bool:
    """True for a label that starts with an ISO date (a time slice's label, not a period's)."""
    try:
        dt.date.fromisoformat(label[:10])
        return True
    except ValueError:
        return False


def _datetime(label: str) -> str:
    """An RFC 3339 date-time for a date or date-time label."""
    return f"{label[:10]}T00:00:00Z" if len(label) == 10 else label


def _end_of(label: str) -> str:
    """The end of a day label (inclusive end of the range a composite covers)."""
    return f"{label}T23:59:59Z" if len(label) == 10 else label


def _instant(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _inclusive_end(end: dt.datetime) -> str:
    """A period's last second: STAC's ``end_datetime`` is inclusive, a period's end is not."""
    return _instant(end - dt.timedelta(seconds=1))
