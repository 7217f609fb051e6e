"""reduce_spatial (the spatial dimensions collapsed per slice) and create_raster_cube."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.errors import ProcessError
from tests.fixtures.cubes import S2_BANDS, S2_DATES, built, callback, s2_values


@pytest.mark.parametrize("reducer, numpy", [("mean", np.nanmean), ("max", np.nanmax), ("median", np.nanmedian)])
def test_reduce_spatial_collapses_x_and_y_per_date_and_band(reducer, numpy):
    cube = built({"r": {"process_id": "reduce_spatial", "arguments": {
        "data": {"from_node": "load"}, "reducer": callback(("m", reducer, {"data": {"from_parameter": "data"}}))}}})
    assert cube.meta.dims == ("t", "bands") and cube.meta.grid is None
    assert cube.meta.labels == {"t": S2_DATES, "bands": S2_BANDS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(materialize(cube), numpy(s2_values().astype(np.float64), axis=(2, 3)), rtol=1e-5)


def test_reduce_spatial_errors_are_found_on_the_driver():
    with pytest.raises(ProcessError) as info:
        built({"r": {"process_id": "reduce_spatial", "arguments": {
            "data": {"from_node": "load"}, "reducer": callback(("m", "mean", {"data": {"from_parameter": "data"}}))}},
            "again": {"process_id": "reduce_spatial", "arguments": {
                "data": {"from_node": "r"}, "reducer": callback(("m", "mean", {"data": {"from_parameter": "data"}}))}}})
    assert (info.value.code, info.value.node_id) == ("DimensionMissing", "again")
    with pytest.raises(ProcessError) as info:        # pixels have no labels: the probe fails on the driver
        built({"r": {"process_id": "reduce_spatial", "arguments": {"data": {"from_node": "load"}, "reducer": callback(
            ("e", "array_element", {"data": {"from_parameter": "data"}, "label": "nope"}))}}})
    assert (info.value.code, info.value.node_id) == ("ArrayNotLabeled", "r/e")


def test_create_raster_cube_is_empty_until_dimensions_are_added():
    cube = built({"empty": {"process_id": "create_raster_cube", "arguments": {}},
                  "add": {"process_id": "add_dimension", "arguments": {
                      "data": {"from_node": "empty"}, "name": "bands", "label": "b1", "type": "bands"}}})
    assert cube.meta.dims == ("bands",) and cube.meta.labels["bands"] == ("b1",)
    assert materialize(cube).shape == (1,)
