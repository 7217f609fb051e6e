"""TileGrid: immutable value arithmetic (no rasterio)."""
import math

import pytest

from jobs.plan.grid import TileGrid, Window

UTM = "EPSG:32633"


def test_from_bounds_snaps_outward_to_anchor():
    g = TileGrid.from_bounds((1003.0, 2001.0, 1995.0, 2999.5), UTM, 10, anchor=(0, 0))
    assert g.bounds == (1000.0, 2000.0, 2000.0, 3000.0)
    assert g.shape == (100, 100)
    assert g.resolution == (10.0, 10.0)


def test_from_bounds_exact_edges_add_no_pixel():
    # 1e-12 of float noise must not add a row or column
    g = TileGrid.from_bounds((0.0, 0.0, 100.0 + 1e-12, 50.0 - 1e-12), UTM, 10)
    assert g.shape == (5, 10)


def test_equality_and_hash_by_value():
    a = TileGrid(UTM, (10, 0, 0, 0, -10, 100), (10, 10))
    b = TileGrid(UTM, [10.0, 0.0, 0.0, 0.0, -10.0, 100.0, 0, 0, 1], (10, 10))
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
    with pytest.raises(Exception):
        a.shape = (1, 1)


@pytest.mark.parametrize("size,expected", [(512, 4), (300, 16), (1024, 1)], ids=["512", "300", "1024"])
def test_tiles_cover_grid_exactly_once(size, expected):
    g = TileGrid.from_bounds((0, 0, 10240, 10240), UTM, 10)
    tiles = list(g.tiles(size))
    assert len(tiles) == expected
    covered = sum(w.height * w.width for _, w, _ in tiles)
    assert covered == g.height * g.width
    for (i, j), win, sub in tiles:
        assert sub.shape == (win.height, win.width)
        assert sub.aligned_with(g)
        assert g.window_of(sub.bounds) == win


def test_window_of_clips_to_grid():
    g = TileGrid.from_bounds((0, 0, 100, 100), UTM, 10)
    assert g.window_of((-50, -50, 25, 25)) == Window(7, 0, 3, 3)
    empty = g.window_of((500, 500, 600, 600))
    assert empty.height == 0 and empty.width == 0


def test_tiles_touching_footprint():
    g = TileGrid.from_bounds((0, 0, 2000, 2000), UTM, 10)   # 200x200 px, 4 tiles of 100
    # x 0..999 -> cols 0..99 (tile col 0); y 1000..2000 -> rows 0..99 (tile row 0)
    assert g.tiles_touching((0, 1000, 999, 2000), size=100) == [(0, 0)]
    assert g.tiles_touching((950, 950, 1050, 1050), size=100) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert g.tiles_touching((1500, 1500, 1600, 1600), size=100) == [(0, 1)]   # rows 40-49, cols 150-159
    assert g.tiles_touching((5000, 5000, 6000, 6000), size=100) == []


def test_aligned_with_detects_shift_and_resolution():
    g = TileGrid.from_bounds((0, 0, 100, 100), UTM, 10)
    assert g.aligned_with(TileGrid.from_bounds((20, 20, 60, 60), UTM, 10))
    assert not g.aligned_with(TileGrid(UTM, (10, 0, 5, 0, -10, 100), (5, 5)))
    assert not g.aligned_with(TileGrid.from_bounds((0, 0, 100, 100), UTM, 20))
    assert not g.aligned_with(TileGrid.from_bounds((0, 0, 100, 100), "EPSG:32632", 10))


def test_dict_round_trip():
    g = TileGrid.from_bounds((0, 0, 100, 100), UTM, 10)
    assert TileGrid.from_dict(g.to_dict()) == g


# --- the CRS is an object, compared as a CRS ---------------------------------------------------------------
UTM_WKT = __import__("pyproj").CRS.from_epsg(32633).to_wkt()


def test_crs_is_a_pyproj_crs_and_equal_whatever_its_text():
    from pyproj import CRS

    a = TileGrid(UTM, (10, 0, 0, 0, -10, 100), (10, 10))
    b = TileGrid(UTM_WKT, (10, 0, 0, 0, -10, 100), (10, 10))
    assert isinstance(a.crs, CRS) and a.crs.to_epsg() == 32633
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.aligned_with(b) and b.aligned_with(TileGrid(32633, (10, 0, 50, 0, -10, 50), (2, 2)))
    assert a != TileGrid("EPSG:32632", (10, 0, 0, 0, -10, 100), (10, 10))


@pytest.mark.parametrize("crs", [UTM, UTM_WKT], ids=["epsg", "wkt"])
def test_dict_and_pickle_round_trips_keep_the_crs_text(crs):
    import json
    import pickle

    g = TileGrid(crs, (10, 0, 0, 0, -10, 100), (10, 10))
    d = json.loads(json.dumps(g.to_dict()))
    assert d["crs"] == crs and TileGrid.from_dict(d) == g
    back = pickle.loads(pickle.dumps(g))
    assert back == g and back.crs is TileGrid.from_dict(d).crs      # one parsed CRS per text


def test_bounds_in_and_footprint_in_lon_lat():
    g = TileGrid.from_bounds((500000, 5000000, 600000, 5100000), UTM, 100)
    west, south, east, north = g.bounds_in("EPSG:4326")
    assert 14.9 < west < 15.0 < east < 16.4 and 45.1 < south < north < 46.1
    ring = g.footprint()                                # EPSG:4326 by default
    assert ring[0] == ring[-1] and len(ring) == 4 * 20 + 1
    assert all(west - 1e-9 <= x <= east + 1e-9 and south - 1e-9 <= y <= north + 1e-9 for x, y in ring)
    assert g.footprint(UTM)[:4] == ((500000.0, 5100000.0), (505000.0, 5100000.0), (510000.0, 5100000.0),
                                     (515000.0, 5100000.0))


def test_to_crs_covers_the_grid_and_keeps_it_in_its_own_crs():
    g = TileGrid.from_bounds((500000, 5000000, 510000, 5010000), UTM, 10)
    assert g.to_crs(UTM_WKT) == g                       # same CRS, same resolution: same grid
    ll = g.to_crs(4326, 0.0001)
    assert ll.crs.to_epsg() == 4326 and ll.resolution == pytest.approx((0.0001, 0.0001))
    west, south, east, north = g.bounds_in(4326)
    assert ll.bounds[0] == pytest.approx(west) and ll.bounds[3] == pytest.approx(north)
    assert ll.bounds[2] >= east and ll.bounds[1] <= south
    # no resolution: as many pixels along the diagonal as the source (GDAL's suggested warp output)
    auto = g.to_crs(4326)
    assert math.hypot(*auto.shape) == pytest.approx(math.hypot(*g.shape), rel=0.02)
