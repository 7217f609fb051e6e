"""Cube processes on ArrayCube sources: filters, reduce/apply, mask, ndvi, merge, dimension edits.

Each result is compared with numpy on the same values (``s2_values``), computed independently.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

from jobs.cube.arraycube import ArrayCube, materialize
from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.evaluate import build
from jobs.graph.parse import ProcessGraph
from tests.fixtures.cubes import S2_BANDS, S2_DATES, UTM_GRID, ArraySource, s2_cube, s2_values

LOAD = {"process_id": "load_collection", "arguments": {"id": "s2", "spatial_extent": None, "temporal_extent": None}}
DATA = {"from_parameter": "data"}


def _cb(process_id: str, **arguments) -> dict:
    return {"process_graph": {"n": {"process_id": process_id, "arguments": arguments, "result": True}}}


def run(nodes: dict, source=None):
    """Build ``load`` + ``nodes`` (the last one is the result) and return the built output cube."""
    flat = {"load": LOAD, **nodes}
    last = list(flat)[-1]
    flat[last] = {**flat[last], "result": True}
    return build(ProcessGraph.parse({"process_graph": flat}), source or ArraySource({"s2": s2_cube()})).output


def node(process_id: str, data="load", **arguments) -> dict:
    return {"process_id": process_id, "arguments": {"data": {"from_node": data}, **arguments}}


def fails(nodes: dict, error=ProcessError, source=None):
    with pytest.raises(error) as info:
        run(nodes, source)
    return info.value


# --- filter_temporal ------------------------------------------------------------------------------
@pytest.mark.parametrize("extent, kept", [
    (["2021-06-01", "2021-06-21"], ["2021-06-01", "2021-06-11"]),              # end excluded
    (["2021-06-01T00:00:00Z", "2021-06-21T00:00:01Z"], ["2021-06-01", "2021-06-11", "2021-06-21"]),
    ([None, "2021-06-01"], ["2021-05-30"]),
    (["2021-07-01", None], ["2021-07-01", "2021-08-15"]),
    (["2022-01-01", None], []),
])
def test_filter_temporal_is_left_closed(extent, kept):
    cube = run({"f": node("filter_temporal", extent=extent)})
    assert list(cube.meta.labels["t"]) == kept
    idx = [S2_DATES.index(d) for d in kept]
    np.testing.assert_array_equal(materialize(cube), s2_values()[idx])


@pytest.mark.parametrize("extent, code", [(["2021-07-01", "2021-06-01"], "TemporalExtentEmpty"),
                                          (["2021-06-01", "2021-06-01"], "TemporalExtentEmpty"),
                                          ([None, None], "TemporalExtentEmpty")])
def test_filter_temporal_rejects_empty_intervals(extent, code):
    err = fails({"f": node("filter_temporal", extent=extent)})
    assert (err.code, err.node_id, err.argument) == (code, "f", "extent")


def test_filter_temporal_unknown_dimension():
    err = fails({"f": node("filter_temporal", extent=["2021-06-01", None], dimension="time")})
    assert err.code == "DimensionNotAvailable"


# --- filter_bands --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bands, expected", [(["SCL", "B04"], ["SCL", "B04"]), (["nir"], ["B08"]),
                                             (["red", "B08"], ["B04", "B08"])])
def test_filter_bands_by_name_or_common_name_in_the_given_order(bands, expected):
    cube = run({"f": node("filter_bands", bands=bands)})
    assert list(cube.meta.labels["bands"]) == expected
    idx = [S2_BANDS.index(b) for b in expected]
    np.testing.assert_array_equal(materialize(cube), s2_values()[:, idx])


def test_filter_bands_needs_a_criterion():
    assert fails({"f": node("filter_bands")}).code == "BandFilterParameterMissing"


def test_filter_bands_uses_the_push_down_hook():
    class Narrowing(ArrayCube):
        def select_bands(self, names, node_id):
            picked = [S2_BANDS.index(n) for n in names]
            return ArrayCube(self.values[:, picked], self.meta.dims, {**self.meta.labels, "bands": names},
                             self.meta.grid, node_id=f"pushed:{node_id}")

    class Source(ArraySource):
        def load_collection(self, node_id, *args):
            base = s2_cube()
            return Narrowing(base.values, base.meta.dims, base.meta.labels, base.meta.grid, node_id=node_id)

    cube = run({"f": node("filter_bands", bands=["B08"])}, Source({}))
    assert cube.node_id == "pushed:f"
    np.testing.assert_array_equal(materialize(cube), s2_values()[:, [1]])


# --- filter_bbox ------------------------------------------------------------------------------------------
def test_filter_bbox_in_the_cube_crs_keeps_pixels_with_centres_inside():
    left, top = UTM_GRID.transform[2], UTM_GRID.transform[5]
    extent = {"west": left + 20, "east": left + 50, "north": top - 10, "south": top - 42, "crs": 32631}
    cube = run({"f": node("filter_bbox", extent=extent)})
    # columns 2..4 (centres 25, 35, 45); rows 1..3 (centres -15, -25, -35; -45 is outside)
    assert cube.meta.grid.shape == (3, 3)
    np.testing.assert_array_equal(materialize(cube), s2_values()[..., 1:4, 2:5])


def test_filter_bbox_in_wgs84_is_transformed():
    from pyproj import Transformer

    to_ll = Transformer.from_crs(32631, 4326, always_xy=True)
    left, top = UTM_GRID.transform[2], UTM_GRID.transform[5]
    west, north = to_ll.transform(left + 21, top - 11)
    east, south = to_ll.transform(left + 49, top - 39)
    cube = run({"f": node("filter_bbox", extent={"west": west, "south": south, "east": east, "north": north})})
    np.testing.assert_array_equal(materialize(cube), s2_values()[..., 1:4, 2:5])


# --- reduce_dimension / apply ------------------------------------------------------------------------------------
@pytest.mark.parametrize("reducer, numpy_fn", [("mean", np.nanmean), ("max", np.nanmax), ("min", np.nanmin)])
def test_reduce_dimension_over_t(reducer, numpy_fn):
    cube = run({"r": node("reduce_dimension", dimension="t", reducer=_cb(reducer, data=DATA))})
    assert cube.meta.dims == ("bands", "y", "x") and cube.meta.labels == {"bands": S2_BANDS}
    with _quiet():          # all-NaN pixels: numpy warns, the engine gives NaN
        expected = numpy_fn(s2_values().astype(np.float64), axis=0)
    np.testing.assert_allclose(materialize(cube), expected, rtol=1e-6)


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def test_reducer_returning_an_array_is_rejected_at_build():
    err = fails({"r": node("reduce_dimension", dimension="t", reducer=_cb("absolute", x=DATA))},
                (ProcessError, ProcessGraphError))
    assert err.node_id.startswith("r")


def test_pass_through_reducers_keep_an_integer_dtype():
    values = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 1, 3, 4)
    ints = ArrayCube(values, ("t", "bands", "y", "x"), {"t": ("2021-01-01", "2021-01-02"), "bands": ("B1",)},
                     UTM_GRID.clip_to((600000, 5000070, 600040, 5000100)), dtype="uint16", nodata=0)
    source = ArraySource({"s2": ints})
    kept = run({"r": node("reduce_dimension", dimension="t", reducer=_cb("max", data=DATA))}, source)
    assert (kept.meta.dtype, kept.meta.nodata) == ("uint16", 0)
    computed = run({"r": node("reduce_dimension", dimension="t", reducer=_cb("mean", data=DATA))}, source)
    assert computed.meta.dtype == "float32" and np.isnan(computed.meta.nodata)


def test_apply_runs_on_every_pixel():
    cube = run({"a": node("apply", process=_cb("multiply", x={"from_parameter": "x"}, y=10))})
    np.testing.assert_allclose(materialize(cube), s2_values() * 10, rtol=1e-6)
    assert cube.meta.dims == ("t", "bands", "y", "x")


def test_apply_dimension_keeps_labels_when_the_length_is_kept():
    process = {"process_graph": {"m": {"process_id": "mean", "arguments": {"data": DATA}},
                                 "d": {"process_id": "subtract", "arguments": {"x": DATA, "y": {"from_node": "m"}}},
                                 "r": {"process_id": "absolute", "arguments": {"x": {"from_node": "d"}}, "result": True}}}
    cube = run({"a": node("apply_dimension", dimension="t", process=process)})
    assert cube.meta.labels["t"] == S2_DATES
    values = s2_values().astype(np.float64)
    with _quiet():
        expected = np.abs(values - np.nanmean(values, axis=0))
    np.testing.assert_allclose(materialize(cube), expected, rtol=1e-5, atol=1e-6)


def test_apply_dimension_to_a_new_target_dimension():
    process = _cb("quantiles", data=DATA, probabilities=[0.25, 0.5, 0.75])
    cube = run({"a": node("apply_dimension", dimension="t", target_dimension="q", process=process)})
    assert cube.meta.dims == ("q", "bands", "y", "x") and cube.meta.labels["q"] == (0, 1, 2)
    expected = np.nanquantile(s2_values().astype(np.float64), [0.25, 0.5, 0.75], axis=0)
    np.testing.assert_allclose(materialize(cube), expected, rtol=1e-5)


# --- mask / ndvi --------------------------------------------------------------------------------------------------------
def _cloud_reducer():
    return {"process_graph": {
        "scl": {"process_id": "array_element", "arguments": {"data": DATA, "label": "SCL"}},
        "c": {"process_id": "gte", "arguments": {"x": {"from_node": "scl"}, "y": 8}, "result": True}}}


def test_mask_broadcasts_a_mask_without_bands_over_the_bands():
    cube = run({"m": node("reduce_dimension", dimension="bands", reducer=_cloud_reducer()),
                "masked": {"process_id": "mask", "arguments": {"data": {"from_node": "load"},
                                                               "mask": {"from_node": "m"}}}})
    values = s2_values()
    cloudy = values[:, 2] >= 8
    expected = values.copy()
    expected[np.broadcast_to(cloudy[:, None], expected.shape)] = np.nan
    np.testing.assert_array_equal(materialize(cube), expected)


def test_mask_replacement_value():
    cube = run({"m": node("reduce_dimension", dimension="bands", reducer=_cloud_reducer()),
                "masked": {"process_id": "mask", "arguments": {"data": {"from_node": "load"},
                                                               "mask": {"from_node": "m"}, "replacement": -1}}})
    values = s2_values()
    expected = np.where((values[:, 2] >= 8)[:, None], np.float32(-1), values)
    np.testing.assert_array_equal(materialize(cube), expected)


def test_mask_with_a_dimension_the_data_lacks_is_rejected():
    err = fails({"n": node("ndvi"),
                 "masked": {"process_id": "mask", "arguments": {"data": {"from_node": "n"},
                                                                "mask": {"from_node": "load"}}}}, ProcessGraphError)
    assert (err.node_id, err.argument) == ("masked", "mask") and "bands" in err.reason


def test_ndvi_by_common_names_and_target_band():
    values = s2_values().astype(np.float64)
    expected = (values[:, 1] - values[:, 0]) / (values[:, 1] + values[:, 0])
    cube = run({"n": node("ndvi")})
    assert cube.meta.dims == ("t", "y", "x")
    np.testing.assert_allclose(materialize(cube), expected, rtol=1e-5)
    kept = run({"n": node("ndvi", nir="B08", red="B04", target_band="NDVI")})
    assert kept.meta.labels["bands"] == S2_BANDS + ("NDVI",)
    np.testing.assert_allclose(materialize(kept)[:, 3], expected, rtol=1e-5)


@pytest.mark.parametrize("arguments, code, argument", [
    ({"target_band": "SCL"}, "BandExists", "target_band"),
    ({"nir": "B09"}, "NirBandAmbiguous", "nir"),
    ({"red": "B05"}, "RedBandAmbiguous", "red"),
])
def test_ndvi_errors(arguments, code, argument):
    err = fails({"n": node("ndvi", **arguments)})
    assert (err.code, err.node_id, err.argument) == (code, "n", argument)


# --- merge_cubes ----------------------------------------------------------------------------------------------------------
def test_merge_cubes_with_disjoint_bands():
    cube = run({"a": node("filter_bands", bands=["B04"]), "b": node("filter_bands", bands=["SCL", "B08"]),
                "m": {"process_id": "merge_cubes", "arguments": {"cube1": {"from_node": "a"},
                                                                 "cube2": {"from_node": "b"}}}})
    assert cube.meta.labels["bands"] == ("B04", "SCL", "B08")
    np.testing.assert_array_equal(materialize(cube), s2_values()[:, [0, 2, 1]])


def test_merge_cubes_overlap_needs_a_resolver():
    nodes = {"a": node("filter_bands", bands=["B04", "B08"]), "b": node("filter_bands", bands=["B08", "SCL"]),
             "m": {"process_id": "merge_cubes", "arguments": {"cube1": {"from_node": "a"},
                                                              "cube2": {"from_node": "b"}}}}
    assert fails(nodes).code == "OverlapResolverMissing"
    nodes["m"]["arguments"]["overlap_resolver"] = _cb("add", x={"from_parameter": "x"}, y={"from_parameter": "y"})
    cube = run(nodes)
    values = s2_values()
    assert cube.meta.labels["bands"] == ("B04", "B08", "SCL")
    np.testing.assert_allclose(materialize(cube), np.stack([values[:, 0], 2 * values[:, 1], values[:, 2]], axis=1))


# --- dimension edits ---------------------------------------------------------------------------------------------------------
def test_rename_drop_and_add_dimension():
    renamed = run({"r": node("rename_labels", dimension="bands", source=["B04", "B08"], target=["red", "nir"])})
    assert renamed.meta.labels["bands"] == ("red", "nir", "SCL")
    assert fails({"r": node("rename_labels", dimension="bands", source=["B04"], target=["SCL"])}).code == "LabelExists"
    one = run({"f": node("filter_bands", bands=["B08"]), "d": node("drop_dimension", data="f", name="bands")})
    assert one.meta.dims == ("t", "y", "x")
    np.testing.assert_array_equal(materialize(one), s2_values()[:, 1])
    assert fails({"d": node("drop_dimension", name="t")}).code == "DimensionLabelCountMismatch"
    added = run({"a": node("add_dimension", name="run", label="v1")})
    assert added.meta.dims == ("run", "t", "bands", "y", "x") and added.meta.labels["run"] == ("v1",)
    np.testing.assert_array_equal(materialize(added)[0], s2_values())
    assert fails({"a": node("add_dimension", name="t", label="x")}).code == "DimensionExists"


def test_merge_cubes_along_time_sorts_the_union_of_dates():
    cube = run({"a": node("filter_temporal", extent=["2021-06-01", "2021-06-15"]),
                "b": node("filter_temporal", extent=["2021-05-01", "2021-06-01"]),
                "m": {"process_id": "merge_cubes", "arguments": {"cube1": {"from_node": "a"},
                                                                 "cube2": {"from_node": "b"}}}})
    assert cube.meta.labels["t"] == ("2021-05-30", "2021-06-01", "2021-06-11")
    np.testing.assert_array_equal(materialize(cube), s2_values()[[0, 1, 2]])


def test_apply_dimension_into_an_existing_dimension_is_rejected():
    err = fails({"a": node("apply_dimension", dimension="t", target_dimension="bands",
                           process=_cb("absolute", x=DATA))}, ProcessGraphError)
    assert (err.node_id, err.argument) == ("a", "target_dimension")


def test_apply_dimension_with_one_value_per_pixel_gives_one_label():
    cube = run({"a": node("apply_dimension", dimension="t", process=_cb("max", data=DATA))})
    assert cube.meta.labels["t"] == (0,)
    with _quiet():
        expected = np.nanmax(s2_values(), axis=0)[np.newaxis]
    np.testing.assert_array_equal(materialize(cube), expected)
