"""GeoJSON in: every GeoJSON shape, inline or from a path, s3:// (moto) and http (a loopback server);
properties and ids kept, the declared CRS honoured, and bad features named by index and id."""
from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

from jobs.errors import ProcessGraphError
from jobs.vector.geojson import Geometries, read_geometries
from sparkeo import geometry

SQUARE = {"type": "Polygon", "coordinates": [[[14.5, 46.0], [14.6, 46.0], [14.6, 46.1], [14.5, 46.1], [14.5, 46.0]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


def collection(*geoms, crs: str | None = None) -> dict:
    doc = {"type": "FeatureCollection",
           "features": [{"type": "Feature", "id": f"f{i}", "properties": {"crop": "maize", "n": i}, "geometry": g}
                        for i, g in enumerate(geoms)]}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return doc


@pytest.mark.parametrize("doc, count", [
    (SQUARE, 1),
    ({"type": "Feature", "properties": {"a": 1}, "geometry": SQUARE}, 1),
    (collection(SQUARE, SQUARE), 2),
    ({"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"],
                                              [[[15, 47], [15.1, 47], [15.1, 47.1], [15, 47]]]]}, 1),
], ids=["geometry", "feature", "collection", "multipolygon"])
def test_every_geojson_shape_reads_in_epsg4326_by_default(doc, count):
    geoms = read_geometries(doc)
    assert len(geoms) == count and geometry.same_crs(geoms.crs, "EPSG:4326")
    assert geoms.shapes()[0].bounds[:2] == pytest.approx((14.5, 46.0))


def test_properties_ids_and_a_declared_crs_are_kept():
    utm = {"type": "Polygon", "coordinates": [[[500000, 5100000], [500100, 5100000], [500100, 5100100],
                                               [500000, 5100000]]]}
    geoms = read_geometries(collection(utm, utm, crs="urn:ogc:def:crs:EPSG::32633"))
    assert geoms.ids == ("f0", "f1") and geoms.properties[1] == {"crop": "maize", "n": 1}
    assert geometry.epsg_code(geoms.crs) == 32633
    back = geoms.to_crs("EPSG:4326").to_crs("EPSG:32633")
    assert back.shapes()[0].equals_exact(geoms.shapes()[0], 1e-6)
    assert geoms.property_names() == ("crop", "n")


@pytest.mark.parametrize("doc, reason", [
    (collection(SQUARE, BOWTIE), "feature 1 (id 'f1'): invalid Polygon: Self-intersection"),
    (collection(SQUARE, {"type": "Polygon", "coordinates": [[[0, 0], [1]]]}), "feature 1 (id 'f1'): malformed Polygon"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": None}]},
     "feature 0: has no geometry"),
    ({"type": "FeatureCollection", "features": "nope"}, "a FeatureCollection needs a list of features"),
    ([1, 2], "expected GeoJSON"),
    (collection(SQUARE, crs="EPSG:999999"), "unknown crs"),
], ids=["self-intersecting", "malformed", "no-geometry", "bad-features", "not-geojson", "unknown-crs"])
def test_a_bad_feature_is_a_user_error_naming_its_index_and_id(doc, reason):
    with pytest.raises(ProcessGraphError) as info:
        read_geometries(doc)
    assert info.value.argument == "geometries" and reason in str(info.value)


def test_from_a_path_and_a_missing_path(tmp_path):
    path = tmp_path / "fields.geojson"
    path.write_text(json.dumps(collection(SQUARE)))
    assert read_geometries(str(path)).ids == ("f0",)
    with pytest.raises(ProcessGraphError, match="cannot read"):
        read_geometries(str(tmp_path / "missing.geojson"))
    (tmp_path / "bad.geojson").write_text("{not json")
    with pytest.raises(ProcessGraphError, match="is not GeoJSON"):
        read_geometries(str(tmp_path / "bad.geojson"))


def test_from_s3(s3):
    s3.server.client().put_object(Bucket=s3.name, Key="in/fields.geojson", Body=json.dumps(collection(SQUARE, SQUARE)))
    assert len(read_geometries(s3.uri("in/fields.geojson"))) == 2
    with pytest.raises(ProcessGraphError, match="cannot read"):
        read_geometries(s3.uri("in/none.geojson"))


def test_from_http(tmp_path):
    (tmp_path / "fields.geojson").write_text(json.dumps(collection(SQUARE)))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        geoms = read_geometries(f"{base}/fields.geojson")
        assert isinstance(geoms, Geometries) and geoms.ids == ("f0",)
        with pytest.raises(ProcessGraphError, match="cannot fetch"):
            read_geometries(f"{base}/missing.geojson")
    finally:
        server.shutdown()
        server.server_close()
