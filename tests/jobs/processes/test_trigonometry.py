"""Trigonometric and hyperbolic functions inside apply, against numpy; out-of-domain gives NaN."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.processes.registry import lookup
from tests.fixtures.cubes import built, callback, s2_values


@pytest.mark.parametrize("process_id, fn", [
    ("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("arcsin", np.arcsin), ("arccos", np.arccos),
    ("arctan", np.arctan), ("sinh", np.sinh), ("cosh", np.cosh), ("tanh", np.tanh), ("arsinh", np.arcsinh),
    ("arcosh", np.arccosh), ("artanh", np.arctanh),
])
def test_in_apply_equals_numpy(process_id, fn):
    cube = built({"a": {"process_id": "apply", "arguments": {
        "data": {"from_node": "load"}, "process": callback(("f", process_id, {"x": {"from_parameter": "x"}}))}}})
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_allclose(materialize(cube), fn(s2_values()), rtol=1e-6)


def test_scalars_and_nodata():
    assert lookup("arctan2").fn(1, -1) == pytest.approx(3 * np.pi / 4)
    assert np.isnan(lookup("arcsin").fn(2)) and lookup("cos").fn(None) is None
