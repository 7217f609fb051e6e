"""``ArrayCube``: windows of its grid, the openEO test-suite encoding, and whole-cube materialisation."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import ArrayCube, materialize, to_openeo
from jobs.cube.lazy import TileContext
from jobs.plan.grid import TileGrid, Window

GRID = TileGrid("EPSG:25832", (10.0, 0.0, 404830.0, 0.0, -10.0, 5757500.0), (3, 4))


def _cube() -> ArrayCube:
    values = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    return ArrayCube(values, ("t", "y", "x"), {"t": ("2020-06-01", "2020-06-03")}, GRID)


def test_compute_returns_the_window_and_nan_outside():
    cube = _cube()
    tile = GRID.crop(Window(1, 2, 3, 3))          # rows 1..3, cols 2..4: one row and one column outside
    got = cube.compute(tile, TileContext())
    assert got.shape == (2, 3, 3)
    np.testing.assert_array_equal(got[:, :2, :2], cube.values[:, 1:3, 2:4])
    assert np.isnan(got[:, 2, :]).all() and np.isnan(got[:, :, 2]).all()


def test_values_must_match_dims_labels_and_grid():
    with pytest.raises(ValueError):
        ArrayCube(np.zeros((3, 3, 4)), ("t", "y", "x"), {"t": ("2020-06-01", "2020-06-03")}, GRID)


def test_declared_nodata_becomes_nan():
    cube = ArrayCube(np.array([[[0, 5]]]), ("bands", "y", "x"), {"bands": ("B1",)},
                     TileGrid("EPSG:4326", (1, 0, 0, 0, -1, 1), (1, 2)), dtype="uint16", nodata=0)
    assert np.isnan(cube.values[0, 0, 0]) and cube.values[0, 0, 1] == 5
    assert (cube.meta.dtype, cube.meta.nodata) == ("uint16", 0)


def test_openeo_encoding_round_trip():
    doc = {
        "type": "datacube", "nodata": [float("nan")], "order": ["bands", "y", "x"],
        "dimensions": {
            "bands": {"type": "bands", "values": ["red", "nir"]},
            "y": {"type": "spatial", "axis": "y", "values": [5757495.0, 5757485.0], "reference_system": "EPSG:25832"},
            "x": {"type": "spatial", "axis": "x", "values": [404835.0, 404845.0, 404855.0],
                  "reference_system": "EPSG:25832"}},
        "data": [[[1, 2, 3], [4, None, 6]], [[7, 8, 9], [10, 11, 12.5]]],
    }
    cube = ArrayCube.from_openeo(doc)
    assert cube.meta.grid == TileGrid("EPSG:25832", (10.0, 0.0, 404830.0, 0.0, -10.0, 5757500.0), (2, 3))
    assert cube.meta.dim_types == {"bands": "bands", "y": "spatial", "x": "spatial"}
    back = to_openeo(cube)
    assert back["order"] == doc["order"]
    assert back["dimensions"]["x"]["values"] == doc["dimensions"]["x"]["values"]
    assert back["dimensions"]["y"]["values"] == doc["dimensions"]["y"]["values"]
    assert back["dimensions"]["bands"]["values"] == ["red", "nir"]
    got = np.array(back["data"], dtype=float)
    expected = np.array([[[1, 2, 3], [4, np.nan, 6]], [[7, 8, 9], [10, 11, 12.5]]])
    np.testing.assert_array_equal(got, expected)


def test_south_up_input_is_stored_north_up():
    doc = {"type": "datacube", "order": ["y", "x"], "data": [[1, 2], [3, 4]],
           "dimensions": {"y": {"type": "spatial", "values": [5.5, 6.5]},
                          "x": {"type": "spatial", "values": [0.5, 1.5]}}}
    cube = ArrayCube.from_openeo(doc)
    np.testing.assert_array_equal(materialize(cube), [[3, 4], [1, 2]])
    assert cube.meta.grid.bounds == (0.0, 5.0, 2.0, 7.0)
