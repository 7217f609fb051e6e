"""The upstream openEO process tests (``../shared/spec/openeo-processes/tests``) run on sparkeo.

One pytest case per upstream case, id ``process[index]``. Decoding, running and comparing live in
``tests/conformance_runner.py``; the table of passed / failed / skipped per process is printed at the
end of the run by the ``tests.fixtures.conformance`` plugin. Unsupported processes and cases whose
behaviour differs between openEO 1.2.0 and 2.0 are skipped with the reason; upstream cases with an
unambiguous test bug are skipped too, and a repaired copy (``id~repaired``) runs as an extra case.
"""
from __future__ import annotations

import json5
import pytest

from tests import conformance_runner as runner

SUITE = runner.load_suite()
CASES = SUITE.cases + runner.repaired_cases(SUITE)
EXAMPLES = runner.load_examples()


def test_suite_is_complete():
    """Every upstream test file was read and every case became a pytest case (none dropped)."""
    files = sorted(p.stem for p in runner.TESTS_DIR.glob("*.json5"))
    assert sorted(SUITE.processes) == files
    counted = sum(len(json5.loads((runner.TESTS_DIR / f"{f}.json5").read_text())["tests"]) for f in files)
    assert len(SUITE.cases) == counted > 400


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: runner.Case):
    """One upstream 2.0.0-rc.2 case (or a repaired copy)."""
    _check(case)


@pytest.mark.parametrize("case", EXAMPLES, ids=[c.id for c in EXAMPLES])
def test_example(case: runner.Case):
    """One example of a 1.2.0 process specification: the version sparkeo implements."""
    _check(case)


def _check(case: runner.Case) -> None:
    reason = runner.skip_reason(case)
    if reason:
        pytest.skip(reason)
    try:
        actual = runner.run(case)
    except runner.MissingAsset as e:
        pytest.skip(f"upstream asset missing: {e.ref}")
    except Exception as e:  # noqa: BLE001 (an error is the expected outcome of `throws` cases)
        if case.throws and runner.expected_error(case, e):
            return
        raise
    if not case.has_returns:
        pytest.fail(f"expected error {case.throws!r}, but the process returned {actual!r}"[:500])
    expected = runner.decode(case.returns, cubes=False)
    problem = runner.mismatch(actual, expected, case.delta)
    assert problem is None, problem


def test_every_known_skip_and_repair_names_an_existing_case():
    ids = {(c.process_id, c.index) for c in SUITE.cases}
    assert set(runner.KNOWN_SKIPS) <= ids
    assert set(runner.REPAIRS) <= set(runner.KNOWN_SKIPS)       # a repaired case is one we skip
    assert set(runner.EXAMPLE_SKIPS) <= {(c.process_id, c.index) for c in EXAMPLES}


@pytest.mark.parametrize("actual, expected", [
    (1.0 + 2e-10, 1.0),                 # beyond the suite's 10 decimals
    (None, float("nan")),               # no-data is not NaN
    (float("nan"), None),
    (1, True),                          # a number is not a boolean
    (float("inf"), 1e308),
    ([1.0, 2.0], [1.0]),
    ("2020-01-02", "2020-01-01T00:00:00Z"),
])
def test_runner_comparison_detects_differences(actual, expected):
    assert runner.mismatch(actual, expected, runner.DEFAULT_DELTA) is not None


def test_runner_comparison_accepts_equal_values():
    assert runner.mismatch(1.0 + 5e-11, 1.0, runner.DEFAULT_DELTA) is None
    assert runner.mismatch("2020-01-01", "2020-01-01T00:00:00Z", runner.DEFAULT_DELTA) is None
    assert runner.mismatch([None, float("nan")], [None, float("nan")], runner.DEFAULT_DELTA) is None


def test_runner_detects_a_wrong_cube_value():
    case = next(c for c in SUITE.cases if c.id == "reduce_dimension[0]")
    expected = runner.decode(case.returns, cubes=False)
    assert runner.mismatch(runner.run(case), expected, case.delta) is None
    expected["data"][1][2] += 0.01
    assert "data[1, 2]" in runner.mismatch(runner.run(case), expected, case.delta)


def test_runner_requires_the_named_error():
    from jobs.errors import ProcessError

    case = next(c for c in SUITE.cases if c.id == "clip[9]")
    assert case.throws == "MinMaxSwapped"
    assert runner.expected_error(case, ProcessError("MinMaxSwapped", "x"))
    assert not runner.expected_error(case, ProcessError("ProcessParameterInvalid", "x"))
    assert not runner.expected_error(case, ValueError("MinMaxSwapped"))
