"""sparkeo.geometry: CRS parsing and equivalence, the one transform_bounds (pyproj only)."""
import math

import pytest
from pyproj import CRS

from sparkeo.errors import UserError
from sparkeo.geometry import (BoundsTransformError, UnknownCRSError, crs_of, crs_text, epsg_code, same_crs,
                              transform_bounds, transform_ring)

UTM33_WKT = CRS.from_epsg(32633).to_wkt()
# GDAL's WKT1 for the same CRS (what rasterio reports for a GeoTIFF), written without the EPSG authority
UTM33_PROJ = "+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs +type=crs"


def test_crs_of_parses_once_per_text():
    assert isinstance(crs_of("EPSG:32633"), CRS)
    assert crs_of("EPSG:32633") is crs_of("EPSG:32633")
    assert crs_of(32633) is crs_of("EPSG:32633")
    assert crs_of(crs_of(4326)) is crs_of(4326)


@pytest.mark.parametrize("other", [UTM33_WKT, UTM33_PROJ, 32633, "epsg:32633"], ids=["wkt2", "proj", "int", "lower"])
def test_one_crs_whatever_its_text(other):
    assert same_crs("EPSG:32633", other)
    assert not same_crs("EPSG:32632", other)


def test_lon_lat_axis_order_is_not_a_different_crs():
    # every coordinate here is x/y (GDAL's traditional GIS order): EPSG:4326 and CRS84 are one grid CRS
    assert same_crs("EPSG:4326", "OGC:CRS84")


def test_text_and_epsg_code():
    assert crs_text(crs_of("EPSG:32633")) == "EPSG:32633"
    assert crs_text(crs_of(4326)) == "EPSG:4326"
    assert crs_text(crs_of(UTM33_WKT)) == UTM33_WKT          # what it was made from, parseable again
    assert epsg_code(UTM33_WKT) == 32633 and epsg_code("EPSG:3035") == 3035
    assert epsg_code("+proj=laea +lat_0=51.3 +lon_0=-7.7 +datum=WGS84 +units=m +no_defs +type=crs") is None


def test_unknown_crs_is_a_user_error():
    with pytest.raises(UnknownCRSError) as info:
        crs_of("EPSG:999999")
    assert isinstance(info.value, UserError) and "EPSG:999999" in str(info.value)


def test_transform_bounds_argument_order_is_bounds_src_dst():
    lonlat = (14.9, 52.0, 15.1, 52.1)
    left, bottom, right, top = transform_bounds(lonlat, "EPSG:4326", "EPSG:32633")
    assert 490_000 < left < right < 510_000 and 5_760_000 < bottom < top < 5_775_000    # metres
    back = transform_bounds((left, bottom, right, top), 32633, 4326)
    assert back[0] <= lonlat[0] and back[1] <= lonlat[1] and back[2] >= lonlat[2] and back[3] >= lonlat[3]


def test_transform_bounds_is_densified_and_identity_in_one_crs():
    # a 1000 km wide UTM box: its north edge bulges north in lon/lat; the corners alone would miss it
    box = (0.0, 5_000_000.0, 1_000_000.0, 6_000_000.0)
    _, _, _, top = transform_bounds(box, 32633, 4326)
    corners = transform_ring([(0.0, 6_000_000.0), (1_000_000.0, 6_000_000.0)], 32633, 4326)
    assert top > max(y for _, y in corners) + 0.1
    assert transform_bounds(box, "EPSG:32633", UTM33_WKT) == box


def test_transform_bounds_refuses_impossible_transformations():
    with pytest.raises(BoundsTransformError) as info:
        transform_bounds((0, 0, 1, 1), "+proj=longlat +a=1e308 +b=1e308 +type=crs", 4326)
    assert isinstance(info.value, UserError)
    assert all(math.isfinite(v) for v in transform_bounds((500000, 0, 510000, 10000), 32633, 4326))
