"""Running a UDF on one chunk, inline and in an isolated child under CPU-time and memory limits."""
from __future__ import annotations

import time

import numpy as np
import pytest
import xarray

from jobs.errors import UdfError
from jobs.processes.udfexec import Limits, UdfCall, describe_failure, run

HEADER = "from openeo.udf import XarrayDataCube\n" \
         "def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:\n"


def _udf(body: str) -> str:
    return HEADER + "".join(f"    {line}\n" for line in body.strip().splitlines())


def _chunk() -> xarray.DataArray:
    return xarray.DataArray(np.arange(24, dtype=np.float32).reshape(2, 3, 4), dims=("t", "y", "x"),
                            coords={"t": np.array(["2021-06-01", "2021-06-11"], dtype="datetime64[ns]")})


MODES = [Limits("inline"), Limits("isolated", cpu_seconds=5, memory_mb=512)]


@pytest.mark.parametrize("limits", MODES, ids=["inline", "isolated"])
def test_result_and_context_come_back(limits):
    code = _udf("return XarrayDataCube(cube.get_array() * context['k'])")
    out = run(UdfCall("a/u", code, {"k": 3}), _chunk(), limits)
    np.testing.assert_array_equal(out.values, _chunk().values * 3)
    assert list(out.dims) == ["t", "y", "x"]


@pytest.mark.parametrize("limits", MODES, ids=["inline", "isolated"])
def test_exception_shows_the_udfs_own_lines_only(limits):
    code = _udf("x = 1\nreturn XarrayDataCube(cube.get_array() / missing)")
    with pytest.raises(UdfError) as e:
        run(UdfCall("a/u", code), _chunk(), limits)
    assert str(e.value) == ("node 'a/u': the UDF raised NameError: name 'missing' is not defined\n"
                            "  UDF line 4, in apply_datacube: return XarrayDataCube(cube.get_array() / missing)")


def test_a_module_without_udf_function_says_which_functions_count():
    with pytest.raises(UdfError, match="No UDF found.*apply_datacube"):
        run(UdfCall("a/u", "x = 1\n"), _chunk(), Limits())


def test_a_non_cube_result_is_refused():
    with pytest.raises(UdfError, match="returned a ndarray, expected an XarrayDataCube"):
        run(UdfCall("a/u", _udf("return cube.get_array().values")), _chunk(), Limits())


@pytest.mark.parametrize("limits", [Limits("inline", timeout=0.5), Limits("isolated", timeout=0.5)],
                         ids=["inline", "isolated"])
def test_timeout_stops_a_runaway_udf_even_one_catching_exceptions(limits):
    code = _udf("while True:\n    try:\n        time.sleep(0.05)\n    except Exception:\n        pass")
    started = time.monotonic()
    with pytest.raises(UdfError, match=r"ran longer than udf_timeout=0.5 s on one chunk"):
        run(UdfCall("a/u", "import time\n" + code), _chunk(), limits)
    assert time.monotonic() - started < 5


def test_isolated_cpu_limit_kills_a_busy_udf():
    code = _udf("while True:\n    pass")
    with pytest.raises(UdfError, match="more than its CPU-time limit of 1 s"):     # a loaded machine: wall >> CPU
        run(UdfCall("a/u", code), _chunk(), Limits("isolated", timeout=300, cpu_seconds=1))


def test_isolated_memory_limit_stops_a_greedy_udf():
    code = _udf("big = np.ones((64, 1024, 1024, 8))\nreturn cube")
    with pytest.raises(UdfError, match="ran out of memory"):
        run(UdfCall("a/u", "import numpy as np\n" + code), _chunk(), Limits("isolated", memory_mb=256))


def test_isolated_udf_cannot_change_the_worker():
    code = _udf("import os\nos.environ['SPARKEO_UDF_TOUCHED'] = '1'\nreturn cube")
    run(UdfCall("a/u", code), _chunk(), Limits("isolated"))
    import os

    assert "SPARKEO_UDF_TOUCHED" not in os.environ


def test_describe_failure_without_udf_frames_is_one_line():
    assert describe_failure("x = 1", ValueError("bad")) == "the UDF raised ValueError: bad"


def test_inline_udf_module_runs_once_per_worker_not_per_chunk():
    code = "import itertools\nLOADS = itertools.count()\nLOADED = next(LOADS)\nCALLS = itertools.count()\n" + \
        _udf("return XarrayDataCube(cube.get_array() * 0 + 10 * LOADED + next(CALLS))")
    outs = [float(run(UdfCall("a/u", code), _chunk(), Limits()).values.max()) for _ in range(3)]
    assert outs == [0.0, 1.0, 2.0]          # module state kept: compiled and executed once


def test_isolated_sleeper_without_timeout_is_capped_by_the_wall_clock():
    code = "import time\n" + _udf("time.sleep(60)\nreturn cube")
    with pytest.raises(UdfError, match=r"ran longer than 4 s on one chunk \(4 x its CPU-time limit\)"):
        run(UdfCall("a/u", code), _chunk(), Limits("isolated", cpu_seconds=1))
