"""User input -> ItemQuery: bbox in any CRS, ISO 8601 intervals, validation errors."""
from __future__ import annotations

import datetime as dt

import pytest
from pyproj import Transformer

from layercatalog.errors import EmptyQueryError, InvalidQueryError
from layercatalog.query import bbox_from_spatial_extent, bbox_to_4326, make_query, parse_bbox, parse_interval

UTC = dt.timezone.utc


def test_parse_bbox_and_errors():
    assert parse_bbox("5, 45,6,46") == (5, 45, 6, 46)
    for bad, reason in [("1,2,3", "four numbers"), ("a,b,c,d", "four numbers"), ("6,45,5,46", "west must be < east"),
                        ("5,46,6,45", "south < north"), ("5,45,inf,46", "finite")]:
        with pytest.raises(InvalidQueryError, match=reason) as err:
            parse_bbox(bad, "--bbox")
        assert "--bbox" in str(err.value) and err.value.exit_code == 2


def test_utm_bbox_becomes_an_enclosing_lonlat_box():
    box = (500000, 5090000, 510000, 5100000)
    west, south, east, north = bbox_to_4326(box, "EPSG:32633")
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
    # Every corner and edge midpoint of the UTM box lies inside the lon/lat box.
    for x in (box[0], (box[0] + box[2]) / 2, box[2]):
        for y in (box[1], (box[1] + box[3]) / 2, box[3]):
            lon, lat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True).transform(x, y)
            assert west - 1e-9 <= lon <= east + 1e-9 and south - 1e-9 <= lat <= north + 1e-9
    # ... and it is tight: its corners map back to within 100 m of the UTM box.
    x0, y0 = to_utm.transform(west, south)
    assert abs(y0 - box[1]) < 100
    assert bbox_to_4326((5, 45, 6, 46), "EPSG:4326") == (5, 45, 6, 46)
    assert bbox_to_4326(box, 32633) == (west, south, east, north)
    with pytest.raises(InvalidQueryError, match="unknown CRS"):
        bbox_to_4326(box, "EPSG:999999")


def test_spatial_extent_object():
    assert bbox_from_spatial_extent({"west": 1, "south": 2, "east": 3, "north": 4, "crs": 32633}) == ((1, 2, 3, 4), "EPSG:32633")
    assert bbox_from_spatial_extent({"west": 1, "south": 2, "east": 3, "north": 4})[1] == "EPSG:4326"
    with pytest.raises(InvalidQueryError, match="spatial_extent"):
        bbox_from_spatial_extent({"west": 1})


def test_intervals():
    assert parse_interval("2023-01-01/2023-02-01T12:00:00Z") == (
        dt.datetime(2023, 1, 1, tzinfo=UTC), dt.datetime(2023, 2, 1, 12, tzinfo=UTC))
    assert parse_interval("../2023-02-01") == (None, dt.datetime(2023, 2, 1, tzinfo=UTC))
    assert parse_interval("2023-01-01T01:00:00+01:00/")[0] == dt.datetime(2023, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidQueryError, match="START/END"):
        parse_interval("2023-01-01")
    with pytest.raises(InvalidQueryError, match="ISO 8601"):
        parse_interval("yesterday/today")


def test_make_query_rejects_empty_interval_naming_collection():
    day = dt.datetime(2023, 5, 1, tzinfo=UTC)
    with pytest.raises(EmptyQueryError) as err:
        make_query("S2", bbox=(5, 45, 6, 46), interval=(day, day))
    assert "'S2'" in str(err.value) and "2023-05-01T00:00:00Z/2023-05-01T00:00:00Z" in str(err.value)
    q = make_query("S2", bbox=(500000, 5090000, 510000, 5100000), bbox_crs="EPSG:32633", bands=["red"])
    assert 14.9 < q.bbox[0] < 15.0 and q.bands == ("red",)
