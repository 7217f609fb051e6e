"""array_apply and array_filter on pixel stacks: whole-stack or per-element calls, uniform or per-pixel filters."""
from __future__ import annotations

import warnings

import numpy as np

from jobs.cube.arraycube import materialize
from jobs.graph.callback import Callback
from jobs.cube.lazy import TileContext
from jobs.plan.grid import Window
from jobs.graph.parse import ProcessGraph
from jobs.processes.labeled import LabeledArray
from jobs.processes.registry import lookup
from tests.fixtures.cubes import S2_BANDS, S2_DATES, UTM_GRID, built, callback, s2_values

DATA, X = {"from_parameter": "data"}, {"from_parameter": "x"}


def _apply_dimension(dimension: str, process: dict):
    return built({"a": {"process_id": "apply_dimension", "arguments": {
        "data": {"from_node": "load"}, "dimension": dimension, "process": process}}})


def test_array_apply_with_index_runs_per_element():
    inner = callback(("m", "multiply", {"x": X, "y": {"from_parameter": "index"}}))
    cube = _apply_dimension("t", callback(("a", "array_apply", {"data": DATA, "process": inner})))
    values = s2_values()
    expect = values * np.arange(len(S2_DATES), dtype=np.float32).reshape(-1, 1, 1, 1)
    assert cube.meta.labels["t"] == S2_DATES
    np.testing.assert_allclose(materialize(cube), expect, rtol=1e-6)


def test_array_apply_reads_the_parent_callbacks_data():
    # x minus the first element: the inner callback reads apply_dimension's `data`
    inner = callback(("f", "array_element", {"data": DATA, "index": 0}),
                     ("d", "subtract", {"x": X, "y": {"from_node": "f"}}))
    cube = _apply_dimension("t", callback(("a", "array_apply", {"data": DATA, "process": inner})))
    values = s2_values()
    np.testing.assert_allclose(materialize(cube), values - values[:1], rtol=1e-6)


def test_array_filter_on_labels_keeps_the_labels():
    condition = callback(("b", "text_begins", {"data": {"from_parameter": "label"}, "pattern": "B0"}))
    stack = LabeledArray(s2_values()[0], S2_BANDS)
    graph = ProcessGraph.parse({**condition, "parameters": [{"name": n} for n in ("x", "index", "label", "context")]})
    kept = lookup("array_filter").fn(stack, Callback(graph))
    assert kept.labels == ("B04", "B08")
    cube = _apply_dimension("bands", callback(("f", "array_filter", {"data": DATA, "condition": condition})))
    assert cube.meta.labels["bands"] == (0, 1)          # apply_dimension: fewer values, enumerated labels
    np.testing.assert_array_equal(materialize(cube), s2_values()[:, :2])


def test_array_filter_on_values_then_mean_is_the_mean_of_the_kept_values():
    condition = callback(("g", "gt", {"x": X, "y": 0.3}))
    reducer = callback(("f", "array_filter", {"data": DATA, "condition": condition}),
                       ("m", "mean", {"data": {"from_node": "f"}}))
    cube = built({"r": {"process_id": "reduce_dimension", "arguments": {
        "data": {"from_node": "load"}, "dimension": "t", "reducer": reducer}}})
    values = s2_values()
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        expect = np.nanmean(np.where(values > 0.3, values, np.nan), axis=0)
    got = materialize(cube)
    assert cube.meta.labels["bands"] == S2_BANDS
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    np.testing.assert_allclose(got, expect, rtol=1e-6)


def test_a_filter_on_values_has_the_same_length_on_every_tile():
    condition = callback(("g", "gt", {"x": X, "y": 0.3}))
    cube = _apply_dimension("t", callback(("f", "array_filter", {"data": DATA, "condition": condition})))
    values = s2_values()
    assert cube.meta.labels["t"] == S2_DATES        # the input's length, padded with no-data
    for window in (Window(0, 0, 1, 1), Window(2, 3, 4, 5)):
        tile = UTM_GRID.crop(window)
        got = cube.compute(tile, TileContext())
        part = values[..., window.row_off:window.row_off + window.height, window.col_off:window.col_off + window.width]
        with np.errstate(invalid="ignore"):
            kept = part > 0.3
        np.testing.assert_array_equal(np.sort(np.where(kept, part, np.nan), axis=0), np.sort(got, axis=0))
