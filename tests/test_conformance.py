"""The upstream openEO process tests (``../shared/spec/openeo-processes/tests``) run on sparkeo.

One pytest case per upstream case, id ``process[index]``. Decoding, running and comparing live in
``tests/conformance_runner.py``; the table of passed / failed / skipped per process is printed at the
end of the run by the ``tests.fixtures.conformance`` plugin. Unsupported processes and cases whose
behaviour differs between openEO 1.2.0 and 2.0 are skipped with the reason.
"""
from __future__ import annotations

import pytest

from tests import conformance_runner as runner

SUITE = runner.load_suite()


def test_suite_is_complete():
    """Every upstream test file was read and every case became a pytest case (none dropped)."""
    files = sorted(p.stem for p in runner.TESTS_DIR.glob("*.json5"))
    assert sorted(SUITE.processes) == files
    counted = sum(len(__import__("json5").loads((runner.TESTS_DIR / f"{f}.json5").read_text())["tests"])
                  for f in files)
    assert len(SUITE.cases) == counted > 400


@pytest.mark.parametrize("case", SUITE.cases, ids=[c.id for c in SUITE.cases])
def test_case(case: runner.Case):
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
