"""ceil, floor, int, round, sgn, mod: on pixel arrays like numpy, with the spec's sign and half rules."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.processes.registry import lookup
from jobs.processes.rounding import mod, round_
from tests.fixtures.cubes import built, callback, s2_values

X = np.array([-2.5, -0.4, 0.25, 0.35, 3.5, np.nan, np.inf], dtype=np.float64)


def test_round_halves_to_even_at_any_precision():
    np.testing.assert_array_equal(round_(X), [-2, -0, 0, 0, 4, np.nan, np.inf])
    np.testing.assert_array_equal(round_(X, p=1), [-2.5, -0.4, 0.2, 0.4, 3.5, np.nan, np.inf])
    assert round_(1234.5, p=-2) == 1200


def test_int_truncates_and_sgn_keeps_nan():
    np.testing.assert_array_equal(lookup("int").fn(X), [-2, -0, 0, 0, 3, np.nan, np.inf])
    np.testing.assert_array_equal(lookup("sgn").fn(X), [-1, -1, 1, 1, 1, np.nan, 1])


@pytest.mark.parametrize("x, y, expect", [(-27, 5, 3), (27, -5, -3), (3.14, -2, -0.86), (2, -np.inf, 2),
                                          (2, 0, np.inf), (-2, 0, -np.inf)])
def test_mod_has_the_sign_of_the_divisor(x, y, expect):
    assert mod(x, y) == pytest.approx(expect)
    assert mod(np.array([x], dtype=np.float32), y)[0] == pytest.approx(expect, rel=1e-6)


def test_mod_in_apply_equals_floored_numpy():
    process = callback(("s", "multiply", {"x": {"from_parameter": "x"}, "y": 100}),
                       ("m", "mod", {"x": {"from_node": "s"}, "y": 7}))
    cube = built({"a": {"process_id": "apply", "arguments": {"data": {"from_node": "load"}, "process": process}}})
    np.testing.assert_allclose(materialize(cube), np.mod(s2_values() * 100, 7), rtol=1e-5, atol=1e-4)
