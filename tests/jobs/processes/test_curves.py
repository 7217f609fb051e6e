"""fit_curve / predict_curve against numpy's lstsq and scipy's curve_fit, pixel by pixel."""
from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from scipy.optimize import curve_fit

from jobs.cube.arraycube import ArrayCube, materialize
from jobs.errors import ProcessError, ProcessGraphError
from tests.fixtures.cubes import UTM_GRID, ArraySource, built, callback

DATES = tuple(str(date(2020, 1, 4) + timedelta(days=int(d))) for d in np.cumsum([0] + [11, 5, 23, 9, 16] * 8))
YEAR = 31557600.0
SECONDS = np.array([(date.fromisoformat(d) - date(1970, 1, 1)).total_seconds() for d in DATES])


def _p(i: int) -> dict:
    return {"process_id": "array_element", "arguments": {"data": {"from_parameter": "parameters"}, "index": i}}


def _harmonic() -> dict:
    """a0 + a1 cos(2 pi x / year) + a2 sin(2 pi x / year), as the openEO client writes it."""
    angle = ("w", "multiply", {"x": 2 * math.pi / YEAR, "y": {"from_parameter": "x"}})
    return callback(
        ("p0", *_p(0).values()), ("p1", *_p(1).values()), ("p2", *_p(2).values()), angle,
        ("c", "cos", {"x": {"from_node": "w"}}), ("s", "sin", {"x": {"from_node": "w"}}),
        ("a", "multiply", {"x": {"from_node": "p1"}, "y": {"from_node": "c"}}),
        ("b", "multiply", {"x": {"from_node": "p2"}, "y": {"from_node": "s"}}),
        ("ab", "add", {"x": {"from_node": "a"}, "y": {"from_node": "b"}}),
        ("f", "add", {"x": {"from_node": "p0"}, "y": {"from_node": "ab"}}))


def _values(seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = 2 * np.pi * SECONDS / YEAR
    coef = rng.normal(0, 1, (3, 7, 9))
    clean = coef[0] + coef[1] * np.cos(w)[:, None, None] + coef[2] * np.sin(w)[:, None, None]
    values = (clean + rng.normal(0, 0.1, clean.shape)).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    values[:-2, 0, 0] = np.nan                         # two values left: fewer than three parameters
    return values


def _source(values: np.ndarray) -> ArraySource:
    return ArraySource({"s2": ArrayCube(values, ("t", "y", "x"), {"t": DATES}, UTM_GRID, node_id="s2")})


def _fit(function: dict, guess: list, values: np.ndarray):
    return built({"fit": {"process_id": "fit_curve", "arguments": {
        "data": {"from_node": "load"}, "parameters": guess, "function": function, "dimension": "t"}}},
        _source(values))


def test_harmonic_fit_equals_lstsq_per_pixel_and_parameters_become_bands():
    values = _values()
    cube = _fit(_harmonic(), [0, 0, 0], values)
    assert cube.meta.dims == ("bands", "y", "x") and cube.meta.labels["bands"] == (0, 1, 2)
    got = materialize(cube)
    w = 2 * np.pi * SECONDS / YEAR
    design = np.stack([np.ones_like(w), np.cos(w), np.sin(w)], axis=1)
    for y in range(7):
        for x in range(9):
            valid = ~np.isnan(values[:, y, x])
            if valid.sum() < 3:
                assert np.isnan(got[:, y, x]).all()
                continue
            want = np.linalg.lstsq(design[valid], values[valid, y, x].astype(np.float64), rcond=None)[0]
            np.testing.assert_allclose(got[:, y, x], want, rtol=1e-4, atol=1e-5)


def test_nonlinear_model_equals_scipy_curve_fit():
    """y = a * exp(-x / b), x the day number: not linear in b, so each pixel runs curve_fit."""
    rng = np.random.default_rng(2)
    days = np.arange(8, dtype=float)
    values = (rng.uniform(1, 2, (1, 2, 3)) * np.exp(-days[:, None, None] / rng.uniform(2, 4, (1, 2, 3)))
              + rng.normal(0, 0.01, (8, 2, 3))).astype(np.float32)
    grid = UTM_GRID.__class__(UTM_GRID.crs, UTM_GRID.transform, (2, 3))
    source = ArraySource({"s2": ArrayCube(values, ("d", "y", "x"), {"d": tuple(range(8))}, grid, node_id="s2")})
    model = callback(("a", *_p(0).values()), ("b", *_p(1).values()),
                     ("q", "divide", {"x": {"from_parameter": "x"}, "y": {"from_node": "b"}}),
                     ("n", "multiply", {"x": -1, "y": {"from_node": "q"}}), ("e", "exp", {"p": {"from_node": "n"}}),
                     ("f", "multiply", {"x": {"from_node": "a"}, "y": {"from_node": "e"}}))
    cube = built({"fit": {"process_id": "fit_curve", "arguments": {
        "data": {"from_node": "load"}, "parameters": [1, 1], "function": model, "dimension": "d"}}}, source)
    got = materialize(cube)
    for y in range(2):
        for x in range(3):
            want = curve_fit(lambda t, a, b: a * np.exp(-t / b), days, values[:, y, x].astype(np.float64), p0=[1, 1])[0]
            np.testing.assert_allclose(got[:, y, x], want, rtol=1e-4)


def _predict(labels=None):
    nodes = {
        "fit": {"process_id": "fit_curve", "arguments": {
            "data": {"from_node": "load"}, "parameters": [0, 0, 0], "function": _harmonic(), "dimension": "t"}},
        "pred": {"process_id": "predict_curve", "arguments": {
            "data": {"from_node": "load"}, "parameters": {"from_node": "fit"}, "function": _harmonic(),
            "dimension": "t", **({"labels": labels} if labels else {})}}}
    return built(nodes, _source(_values()))


def test_predict_curve_fills_gaps_and_evaluates_new_labels():
    values = _values()
    params = materialize(_fit(_harmonic(), [0, 0, 0], values)).astype(np.float64)
    filled = materialize(_predict())
    w = 2 * np.pi * SECONDS / YEAR
    model = params[0] + params[1] * np.cos(w)[:, None, None] + params[2] * np.sin(w)[:, None, None]
    np.testing.assert_allclose(filled, np.where(np.isnan(values), model, values), rtol=1e-4, atol=1e-5)
    new = ["2021-06-01", "2021-12-01T12:00:00Z"]
    cube = _predict(new)
    assert cube.meta.labels["t"] == tuple(new)
    seconds = np.array([1622505600.0, 1638360000.0])
    w = 2 * np.pi * seconds / YEAR
    want = params[0] + params[1] * np.cos(w)[:, None, None] + params[2] * np.sin(w)[:, None, None]
    np.testing.assert_allclose(materialize(cube), want, rtol=1e-4, atol=1e-5)


def test_bad_arguments_name_the_node():
    with pytest.raises(ProcessError) as info:
        built({"fit": {"process_id": "fit_curve", "arguments": {
            "data": {"from_node": "load"}, "parameters": [0], "function": _harmonic(), "dimension": "time"}}},
            _source(_values()))
    assert (info.value.code, info.value.node_id) == ("DimensionNotAvailable", "fit")
    with pytest.raises(ProcessGraphError) as info:
        _fit(_harmonic(), [], _values())
    assert info.value.node_id == "fit" and info.value.argument == "parameters"


def test_invalid_values_infinite_always_nan_only_without_ignore_nodata():
    """1.2.0's InvalidValues: an infinite value fails the fit; NaN (nodata) is skipped by default
    (ignore_nodata, 2.0) and fails with ignore_nodata=false; too few labels fail when the graph is built."""
    values = _values()
    values[3, 2, 4] = np.inf
    with pytest.raises(ProcessError) as info:
        materialize(_fit(_harmonic(), [0, 0, 0], values))
    assert (info.value.code, info.value.node_id, info.value.argument) == ("InvalidValues", "fit", "data")
    assert "inf" in str(info.value)
    strict = built({"fit": {"process_id": "fit_curve", "arguments": {
        "data": {"from_node": "load"}, "parameters": [0, 0, 0], "function": _harmonic(), "dimension": "t",
        "ignore_nodata": False}}}, _source(_values()))
    with pytest.raises(ProcessError) as info:
        materialize(strict)
    assert info.value.code == "InvalidValues" and "ignore_nodata" in str(info.value)
    complete = np.nan_to_num(_values(), nan=0.5)
    ok = built({"fit": {"process_id": "fit_curve", "arguments": {
        "data": {"from_node": "load"}, "parameters": [0, 0, 0], "function": _harmonic(), "dimension": "t",
        "ignore_nodata": False}}}, _source(complete))
    np.testing.assert_allclose(materialize(ok), materialize(_fit(_harmonic(), [0, 0, 0], complete)))
    few = [0] * (len(DATES) + 1)
    with pytest.raises(ProcessError) as info:
        _fit(_harmonic(), few, values)
    assert (info.value.code, info.value.node_id) == ("InvalidValues", "fit") and "cannot determine" in str(info.value)
