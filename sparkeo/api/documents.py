"""The openEO documents that describe the back-end: capabilities, conformance, collections, processes,
file formats. Pure: values in, JSON-ready dicts out (the routes in ``app`` do the I/O).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from sparkeo import __version__

API_VERSION = "1.2.0"
STAC_VERSION = "1.0.0"
#: what ``/conformance`` declares: openEO API 1.2 and the OGC API Common/Features parts /collections follows
CONFORMANCE = (
    "https://api.openeo.org/1.2.0",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
)
# the layer catalog's private blocks: sparkeo's and openEO-geopyspark's (data sources, access groups)
_PRIVATE_KEYS = ("_sparkeo", "_vito")


def capabilities(base_url: str, endpoints: Iterable[tuple[str, Iterable[str]]], title: str = "sparkeo") -> dict:
    """``GET /``: the back-end, its API version and every endpoint it serves (``(path, methods)``)."""
    return {
        "api_version": API_VERSION, "backend_version": __version__, "stac_version": STAC_VERSION,
        "type": "Catalog", "id": "sparkeo", "title": title,
        "description": "openEO process graphs over satellite imagery as PySpark batch jobs",
        "production": False,
        "endpoints": [{"path": path, "methods": list(methods)} for path, methods in endpoints],
        "links": [
            {"rel": "self", "href": f"{base_url}/", "type": "application/json"},
            {"rel": "conformance", "href": f"{base_url}/conformance", "type": "application/json"},
            {"rel": "data", "href": f"{base_url}/collections", "type": "application/json"},
            {"rel": "version-history", "href": f"{base_url}/.well-known/openeo", "type": "application/json"},
        ],
    }


def well_known(base_url: str) -> dict:
    """``GET /.well-known/openeo``: the one API version served, at the server's root."""
    return {"versions": [{"url": f"{base_url}/", "api_version": API_VERSION, "production": False}]}


def collection(info: Any, base_url: str) -> dict:
    """A layer catalog collection as openEO publishes it: its document without the private blocks, with
    the fields openEO requires filled from the validated entry where the document lacks them."""
    doc = {k: v for k, v in dict(info.document).items() if k not in _PRIVATE_KEYS}
    start, end = info.interval
    doc.setdefault("stac_version", STAC_VERSION)
    doc.setdefault("type", "Collection")
    doc["id"] = info.id
    doc.setdefault("title", info.title)
    doc.setdefault("description", info.description or info.title or info.id)
    doc.setdefault("license", "proprietary")
    doc.setdefault("extent", {
        "spatial": {"bbox": [list(info.bbox)]},
        "temporal": {"interval": [[start.isoformat() if start else None, end.isoformat() if end else None]]},
    })
    doc.setdefault("summaries", {"eo:bands": [{"name": b.name} for b in info.bands]})
    doc.setdefault("cube:dimensions", {
        "x": {"type": "spatial", "axis": "x", "extent": [info.bbox[0], info.bbox[2]]},
        "y": {"type": "spatial", "axis": "y", "extent": [info.bbox[1], info.bbox[3]]},
        "t": {"type": "temporal", "extent": doc["extent"]["temporal"]["interval"][0]},
        "bands": {"type": "bands", "values": [b.name for b in info.bands]},
    })
    doc["links"] = [{"rel": "self", "href": f"{base_url}/collections/{info.id}", "type": "application/json"},
                    {"rel": "root", "href": f"{base_url}/", "type": "application/json"}]
    return doc


def collection_summary(doc: Mapping[str, Any]) -> dict:
    """The short form ``GET /collections`` lists (the full document minus what only describe needs)."""
    keep = ("stac_version", "type", "id", "title", "description", "license", "extent", "links", "keywords",
            "providers", "version", "deprecated")
    return {k: doc[k] for k in keep if k in doc}


def processes(described: Iterable[dict]) -> dict:
    """``GET /processes``: the implemented processes' descriptions (``jobs.processes.specdocs``)."""
    return {"processes": list(described), "links": []}


def file_formats(formats: Iterable[Any]) -> dict:
    """``GET /file_formats``: what ``save_result`` writes (``jobs.plan.formats.OutputFormat``s: raster
    results are COGs or netCDF, vector cubes JSON, CSV, GeoParquet or netCDF, all with STAC metadata)."""
    return {"input": {}, "output": {f.name: f.to_json() for f in formats}}
