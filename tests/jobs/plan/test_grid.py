"""TileGrid: immutable value arithmetic (no rasterio)."""
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
