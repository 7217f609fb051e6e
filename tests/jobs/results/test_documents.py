"""jobs.results.documents through ResultsWriter: every document of every result type validates against the
official STAC JSON Schemas (offline), pystac opens it, and the COGs pass ``rio cogeo validate --strict``;
each item carries its own time, its bands' names, and its inputs as ``derived_from`` links."""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from jobs.cube.lazy import CubeMeta
from jobs.plan.grid import TileGrid
from jobs.plan.planner import TileTask
from jobs.results.writer import ResultsWriter
from jobs.plan.timelabels import label_periods
from sparkeo import storage
from tests.stac_schemas import assert_valid_stac, stac_errors

UTM = TileGrid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0), (40, 50))
# A CRS without an EPSG code: projection v2 wants proj:wkt2 (and proj:code null or absent).
CUSTOM = TileGrid("+proj=laea +lat_0=45 +lon_0=15 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs",
                  (10.0, 0.0, 0.0, 0.0, -10.0, 400.0), (40, 50))
INPUTS = [{"id": f"S2_{d}", "href": f"/catalog/items/S2_{d}.json", "label": d, "datetime": f"{d}T10:00:00+00:00"}
          for d in ("2023-06-03", "2023-06-18", "2023-08-07")]
GRAPH = {"process_graph": {"load": {"process_id": "load_collection", "arguments": {"id": "s2"}, "result": True}}}


def write(output: str, dims, labels, grid=UTM, fmt="GTiff", periods=None, dtype="float32", nodata=math.nan,
          time_range=("2023-06-03", "2023-08-07")) -> None:
    meta = CubeMeta(dims=dims, labels=labels, grid=grid, dtype=dtype, nodata=nodata, periods=periods or {})
    writer = ResultsWriter(output, meta, grid, fmt)
    shape = meta.shape_for(grid)
    values = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) % 97
    for i, window, tile_grid in grid.tiles(32):
        r, c = window.slices
        writer.write_tile(TileTask(i, window, tile_grid, 1), values[..., r, c])
    writer.finish({"job_id": "stac-job", "graph_sha256": "ab" * 32, "inputs": [i["id"] for i in INPUTS],
                   "versions": {"sparkeo": "test"}, "catalog": "/catalog/layercatalog.json",
                   "process_graph": GRAPH, "input_items": INPUTS}, time_range)


MONTHS = label_periods([i["label"] for i in INPUTS], "month")       # 2023-06, 2023-07 (empty), 2023-08
CASES = {
    "reduced-gtiff": dict(dims=("bands", "y", "x"), labels={"bands": ("ndvi", "evi")}),
    "per-date-gtiff": dict(dims=("t", "bands", "y", "x"),
                           labels={"t": tuple(i["label"] for i in INPUTS), "bands": ("B04",)},
                           dtype="uint16", nodata=0.0),
    "periodic-gtiff": dict(dims=("t", "y", "x"), labels={"t": tuple(MONTHS)}, periods=MONTHS),
    "netcdf": dict(dims=("t", "bands", "y", "x"), labels={"t": ("2023-06-03", "2023-06-18"), "bands": ("ndvi",)},
                   fmt="netCDF"),
    "no-epsg-crs": dict(dims=("y", "x"), labels={}, grid=CUSTOM),
}


def documents(location: str) -> dict[str, dict]:
    """collection.json and every document it links (items), read through storage."""
    collection_uri = storage.join(location, "collection.json")
    collection = json.loads(storage.read_text(collection_uri))
    docs = {"collection.json": collection}
    for link in collection["links"]:
        if link["rel"] == "item":
            docs[link["href"].rsplit("/", 1)[-1]] = json.loads(storage.read_text(storage.resolve(collection_uri,
                                                                                                   link["href"])))
    return docs


@pytest.mark.parametrize("case", list(CASES))
def test_every_document_validates_and_opens_in_pystac(case, tmp_path):
    out = tmp_path / case
    write(str(out), **CASES[case])
    docs = documents(str(out))
    assert len(docs) > 1
    for name, doc in docs.items():
        assert_valid_stac(doc, f"{case}/{name}")
    collection = pystac.Collection.from_file(str(out / "collection.json"))
    items = list(collection.get_items())
    assert len(items) == len(docs) - 1
    for item in items:
        data = item.assets["data"]
        assert Path(data.get_absolute_href()).exists()
        if "cloud-optimized" in data.media_type:
            valid, errors, warnings = cog_validate(data.get_absolute_href(), strict=True, quiet=True)
            assert valid and not errors and not warnings, (errors, warnings)


def test_old_proj_epsg_is_what_the_projection_schema_rejects(tmp_path):
    out = tmp_path / "r"
    write(str(out), **CASES["reduced-gtiff"])
    doc = documents(str(out))["collection.json"]
    assert doc["assets"]["result"]["proj:code"] == "EPSG:32633" and "proj:epsg" not in doc["assets"]["result"]
    doc["assets"]["result"]["proj:epsg"] = 32633          # what sparkeo wrote before
    assert any("proj:epsg" in e for e in stac_errors(doc))


def test_a_crs_without_epsg_code_is_written_as_wkt2(tmp_path):
    out = tmp_path / "w"
    write(str(out), **CASES["no-epsg-crs"])
    item = documents(str(out))["result.json"]
    props = item["properties"]
    assert "proj:code" not in props
    from pyproj import CRS

    assert CRS.from_wkt(props["proj:wkt2"]) == CRS.from_user_input(CUSTOM.crs)


def test_each_period_item_carries_its_own_period_and_empty_ones_say_so(tmp_path):
    out = tmp_path / "p"
    write(str(out), **CASES["periodic-gtiff"])
    docs = documents(str(out))
    expect = {"2023-06": ("2023-06-01T00:00:00Z", "2023-06-30T23:59:59Z", 2),
              "2023-07": ("2023-07-01T00:00:00Z", "2023-07-31T23:59:59Z", 0),
              "2023-08": ("2023-08-01T00:00:00Z", "2023-08-31T23:59:59Z", 1)}
    for label, (start, end, observations) in expect.items():
        props = docs[f"{label}.json"]["properties"]
        assert (props["start_datetime"], props["end_datetime"]) == (start, end)
        assert props["datetime"] == start and props["title"] == label
        assert props["sparkeo:time_label"] == label        # load_stac gives the cube this label back
        assert props["sparkeo:observations"] == observations
        assert ("no valid observation" in props.get("description", "")) == (observations == 0)
        asset = docs["collection.json"]["assets"][label]
        assert (asset["start_datetime"], asset["end_datetime"]) == (start, end)
    assert docs["collection.json"]["extent"]["temporal"]["interval"] == [["2023-06-01T00:00:00Z",
                                                                          "2023-08-31T23:59:59Z"]]
    # pystac sees the same periods
    item = pystac.Item.from_file(str(out / "2023-07.json"))
    assert item.common_metadata.start_datetime == dt.datetime(2023, 7, 1, tzinfo=dt.timezone.utc)


def test_items_link_the_inputs_they_were_computed_from(tmp_path):
    out = tmp_path / "d"
    write(str(out), **CASES["periodic-gtiff"])
    docs = documents(str(out))

    def derived(name):
        return [link["href"] for link in docs[name]["links"] if link["rel"] == "derived_from"]

    assert derived("2023-06.json") == [INPUTS[0]["href"], INPUTS[1]["href"]]
    assert derived("2023-07.json") == []
    assert derived("2023-08.json") == [INPUTS[2]["href"]]
    out = tmp_path / "r"
    write(str(out), **CASES["reduced-gtiff"])
    docs = documents(str(out))
    assert derived("result.json") == [i["href"] for i in INPUTS]
    item = pystac.Item.from_file(str(out / "result.json"))
    assert [link.href for link in item.get_links("derived_from")] == [i["href"] for i in INPUTS]


def test_collection_records_graph_versions_and_catalog(tmp_path):
    out = tmp_path / "g"
    write(str(out), **CASES["reduced-gtiff"])
    doc = documents(str(out))["collection.json"]
    prov = doc["sparkeo:provenance"]
    assert prov["graph_sha256"] == "ab" * 32 and prov["versions"] == {"sparkeo": "test"}
    assert prov["catalog"] == "/catalog/layercatalog.json"
    assert prov["derived_from"] == [i["id"] for i in INPUTS]
    assert prov["process_graph"] == GRAPH
    metadata = json.loads((out / "job_metadata.json").read_text())
    assert "process_graph" not in metadata and "input_items" not in metadata


def test_band_names_reach_gdal_stac_and_netcdf_alike(tmp_path):
    out = tmp_path / "b"
    write(str(out), **CASES["reduced-gtiff"])
    docs = documents(str(out))
    asset = docs["collection.json"]["assets"]["result"]
    assert [b["name"] for b in asset["bands"]] == ["ndvi", "evi"]
    assert [b["name"] for b in asset["raster:bands"]] == ["ndvi", "evi"]
    with rasterio.open(out / "result.tif") as ds:
        assert ds.descriptions == ("ndvi", "evi")
    out = tmp_path / "n"
    write(str(out), **CASES["netcdf"])
    import netCDF4

    with netCDF4.Dataset(out / "result.nc") as nc:
        assert "ndvi" in nc.variables


def test_s3_results_validate(s3, tmp_path):
    location = s3.uri("stacdocs/job")
    write(location, **CASES["per-date-gtiff"])
    docs = documents(location)
    assert len(docs) == 4
    for name, doc in docs.items():
        assert_valid_stac(doc, f"s3/{name}")
        for asset in doc["assets"].values():
            assert asset["href"].startswith(s3.uri("stacdocs/job/"))
