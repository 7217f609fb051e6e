"""run_udf as the callback of apply, apply_dimension and reduce_dimension, on in-memory cubes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import xarray

from jobs.cube.arraycube import materialize
from jobs.cube.lazy import TileContext
from jobs.errors import ProcessError, ProcessGraphError, UdfError
from jobs.plan.grid import Window
from jobs.processes.udf import chunk_function, limits_of
from jobs.processes.udfexec import UdfCall
from sparkeo.errors import ConfigError
from sparkeo.settings import Settings
from tests.fixtures.cubes import S2_BANDS, S2_DATES, UTM_GRID, ArraySource, built, s2_cube, s2_values

HEADER = "import numpy as np\nfrom openeo.udf import XarrayDataCube\n" \
         "def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:\n" \
         "    a = cube.get_array()\n"


def _udf(body: str, parameter: str = "x", **arguments) -> dict:
    code = HEADER + "".join(f"    {line}\n" for line in body.strip().splitlines())
    run = {"process_id": "run_udf", "result": True,
           "arguments": {"data": {"from_parameter": parameter}, "udf": code, "runtime": "Python", **arguments}}
    return {"process_graph": {"u": run}}


def _node(process_id: str, callback: dict, **arguments) -> dict:
    key = "reducer" if process_id == "reduce_dimension" else "process"
    return {"a": {"process_id": process_id, "arguments": {"data": {"from_node": "load"}, key: callback, **arguments}}}


def test_apply_sees_openeo_dims_labels_and_pixel_centres():
    body = """
assert a.dims == ("t", "bands", "y", "x"), a.dims
assert [str(v)[:10] for v in a.t.values] == context["dates"]
assert list(a.bands.values) == context["bands"]
assert a.x.values[0] == 600005.0 and a.y.values[0] == 5000095.0 and a.x.values[1] == 600015.0
return XarrayDataCube(a + 1)
"""
    out = built(_node("apply", _udf(body, context={"dates": list(S2_DATES), "bands": list(S2_BANDS)})))
    np.testing.assert_array_equal(materialize(out), s2_values() + 1)


def test_apply_result_does_not_depend_on_the_chunks():
    out = built(_node("apply", _udf("return XarrayDataCube(a - a.mean(dim='t'))")))
    whole = materialize(out)
    left, right = UTM_GRID.crop(Window(0, 0, 7, 4)), UTM_GRID.crop(Window(0, 4, 7, 5))
    tiles = np.concatenate([out.compute(left, TileContext()), out.compute(right, TileContext())], axis=-1)
    np.testing.assert_allclose(tiles, whole, rtol=1e-6)


def test_apply_dimension_over_bands_gives_the_udfs_new_labels():
    body = """
ndvi = (a.sel(bands="B08") - a.sel(bands="B04")) / (a.sel(bands="B08") + a.sel(bands="B04"))
return XarrayDataCube(ndvi.expand_dims(bands=["ndvi"]).transpose("t", "bands", "y", "x"))
"""
    out = built(_node("apply_dimension", _udf(body, "data"), dimension="bands"))
    assert out.meta.labels["bands"] == ("ndvi",)
    v = s2_values()
    with np.errstate(all="ignore"):
        expect = ((v[:, 1] - v[:, 0]) / (v[:, 1] + v[:, 0]))[:, np.newaxis]
    np.testing.assert_allclose(materialize(out), expect, rtol=1e-6)


def test_apply_dimension_over_t_may_return_new_dates():
    body = "return XarrayDataCube(a.resample(t='MS').mean())"
    out = built(_node("apply_dimension", _udf(body, "data"), dimension="t"))
    assert out.meta.labels["t"] == ("2021-05-01", "2021-06-01", "2021-07-01", "2021-08-01")
    assert materialize(out).shape == (4, 3, 7, 9)


def test_apply_dimension_over_t_without_dates_for_a_new_length_is_refused():
    body = "return XarrayDataCube(a.isel(t=slice(0, 2)).drop_vars('t'))"
    with pytest.raises(UdfError, match="returned 2 time steps for 6 without coordinates along 't'"):
        built(_node("apply_dimension", _udf(body, "data"), dimension="t"))


def test_reduce_dimension_over_bands_and_a_length_one_t():
    out = built(_node("reduce_dimension", _udf("return XarrayDataCube(a.max('bands'))", "data"), dimension="bands"))
    assert out.meta.dims == ("t", "y", "x")
    np.testing.assert_array_equal(materialize(out), np.nanmax(s2_values(), axis=1))
    out = built(_node("reduce_dimension", _udf("return XarrayDataCube(a.isel(t=[0]))", "data"), dimension="t"))
    np.testing.assert_array_equal(materialize(out), s2_values()[0])


@pytest.mark.parametrize("body, expected", [
    ("return XarrayDataCube(a.rename(bands='b'))", "returned dimensions ('t', 'b', 'y', 'x'); apply expects "
                                                   "('t', 'bands', 'y', 'x')"),
    ("return XarrayDataCube(a.assign_coords(bands=['x1', 'x2', 'x3']))",
     "returned 3 elements along 'bands' ['x1', 'x2', 'x3']; apply expects 3: ['B04', 'B08', 'SCL']"),
    ("return XarrayDataCube(a.isel(y=slice(0, 2)))", "returned 2 elements along 'y'; apply expects 7"),
])
def test_wrong_shape_or_labels_say_what_was_expected(body, expected):
    out = built(_node("apply", _udf(body)))
    with pytest.raises(UdfError) as e:
        materialize(out)
    assert str(e.value) == f"node 'a/u': the UDF {expected}"


def test_reduce_dimension_keeping_the_dimension_is_refused():
    out = built(_node("reduce_dimension", _udf("return XarrayDataCube(a)", "data"), dimension="t"))
    with pytest.raises(UdfError, match=r"returned dimensions \('t', 'bands', 'y', 'x'\); reduce_dimension over 't' "
                                       r"expects \('bands', 'y', 'x'\)"):
        materialize(out)


def test_missing_dependency_and_wrong_version_fail_at_build_naming_the_node():
    code = "# /// script\n# dependencies = [\"no-such-udf-package\"]\n# ///\n"
    callback = _udf("return cube")
    callback["process_graph"]["u"]["arguments"]["udf"] = code + callback["process_graph"]["u"]["arguments"]["udf"]
    with pytest.raises(ProcessError, match="node 'a/u', argument 'udf': MissingDependency: .*'no-such-udf-package'"):
        built(_node("apply", callback))
    with pytest.raises(ProcessError, match="node 'a/u', argument 'runtime': InvalidVersion"):
        built(_node("apply", _udf("return cube", version="2.7")))


def test_run_udf_inside_a_larger_callback_is_refused():
    callback = _udf("return cube")
    callback["process_graph"]["u"].pop("result")
    callback["process_graph"]["n"] = {"process_id": "absolute", "arguments": {"x": {"from_node": "u"}},
                                      "result": True}
    with pytest.raises(ProcessError, match="run_udf runs as the whole callback"):
        built(_node("apply", callback))


@dataclass
class _SourceWithSettings(ArraySource):
    settings: Settings | None = None


def test_a_backend_with_udfs_off_refuses_them_before_running_them():
    source = _SourceWithSettings({"s2": s2_cube()}, settings=Settings(udf_mode="off"))
    with pytest.raises(ProcessError, match="node 'a/u', argument 'udf': PermissionDenied: this back-end does not run"):
        built(_node("apply_dimension", _udf("raise SystemExit('ran')", "data"), dimension="t"), source)


def test_udf_settings_and_the_timeout_option():
    assert Settings.from_env({"SPARKEO_UDF": "isolated", "SPARKEO_UDF_CPU_SECONDS": "5"}).udf_mode == "isolated"
    with pytest.raises(ConfigError, match="SPARKEO_UDF"):
        Settings(udf_mode="sometimes")
    assert Settings().for_web_api(local=True, allow_udf=False).udf_mode == "off"
    assert Settings().for_web_api(local=True, allow_udf=True).udf_mode == "isolated"
    assert Settings().for_web_api(local=False, allow_udf=False).udf_mode == "inline"
    limits = limits_of(Settings(udf_mode="isolated", udf_memory_mb=100), {"udf_timeout": 2.5})
    assert (limits.mode, limits.timeout, limits.memory_mb) == ("isolated", 2.5, 100)
    with pytest.raises(ConfigError, match="udf_timeout"):
        limits_of(None, {"udf_timeout": "soon"})


def test_chunk_function_is_the_neighborhood_seam():
    from openeo.udf import XarrayDataCube

    code = HEADER + "    return XarrayDataCube(a * 2)\n"
    apply_chunk = chunk_function(UdfCall("n/u", code), Settings(), {})
    chunk = xarray.DataArray(np.ones((2, 4, 4), dtype=np.float32), dims=("t", "y", "x"))
    out = apply_chunk(XarrayDataCube(chunk))
    assert isinstance(out, XarrayDataCube) and float(out.get_array().sum()) == 64.0
    shrink = chunk_function(UdfCall("n/u", HEADER + "    return XarrayDataCube(a[:, 1:-1, 1:-1])\n"), None, {})
    with pytest.raises(UdfError, match="returned 2 elements along 'y'; apply_neighborhood expects 4"):
        shrink(XarrayDataCube(chunk))


def test_a_data_argument_other_than_the_parameter_is_refused():
    callback = _udf("return cube")
    callback["process_graph"]["u"]["arguments"]["data"] = [1, 2]
    with pytest.raises(ProcessGraphError, match="run_udf must run on the callback's 'x' parameter"):
        built(_node("apply", callback))


def test_apply_timeseries_and_apply_udf_data_signatures_run_too():
    timeseries = ("import pandas as pd\n"
                  "def apply_timeseries(series: pd.Series, context: dict) -> pd.Series:\n"
                  "    return pd.Series(series).fillna(0) + context['add']\n")  # openeo hands numpy rows
    callback = _udf("return cube", "data", context={"add": 1})
    callback["process_graph"]["u"]["arguments"]["udf"] = timeseries
    out = built(_node("apply_dimension", callback, dimension="t"))
    np.testing.assert_array_equal(materialize(out), np.nan_to_num(s2_values()) + 1)
    udf_data = ("from openeo.udf import UdfData, XarrayDataCube\n"
                "def apply_udf_data(data: UdfData):\n"
                "    a = data.get_datacube_list()[0].get_array()\n"
                "    data.set_datacube_list([XarrayDataCube(a.fillna(-1))])\n")
    callback["process_graph"]["u"]["arguments"]["udf"] = udf_data
    out = built(_node("apply", {"process_graph": {"u": {**callback["process_graph"]["u"], "arguments": {
        **callback["process_graph"]["u"]["arguments"], "data": {"from_parameter": "x"}}}}}))
    np.testing.assert_array_equal(materialize(out), np.nan_to_num(s2_values(), nan=-1))


def test_chunk_function_on_overlapping_chunks_cropped_equals_the_whole_array():
    """What apply_neighborhood will do with the seam: chunks with a 2 px overlap, cropped after, give
    the whole array's 5 x 5 spatial mean."""
    from openeo.udf import XarrayDataCube

    code = ("from scipy.ndimage import uniform_filter\n" + HEADER +
            "    return XarrayDataCube(a.copy(data=uniform_filter(a.values, size=(1, 5, 5), mode='nearest')))\n")
    apply_chunk = chunk_function(UdfCall("n/u", code), Settings(), {})
    rng = np.random.default_rng(3)
    whole = xarray.DataArray(rng.random((2, 40, 40)), dims=("t", "y", "x"))
    expect = apply_chunk(XarrayDataCube(whole)).get_array().values
    got = np.empty_like(expect)
    size, overlap = 16, 2
    for r in range(0, 40, size):
        for c in range(0, 40, size):
            r0, c0 = max(r - overlap, 0), max(c - overlap, 0)
            chunk = whole[:, r0:r + size + overlap, c0:c + size + overlap]
            out = apply_chunk(XarrayDataCube(chunk)).get_array().values
            got[:, r:r + size, c:c + size] = out[:, r - r0:r - r0 + size, c - c0:c - c0 + size]
    np.testing.assert_allclose(got, expect, rtol=1e-12)


def test_values_that_are_not_numbers_are_refused():
    out = built(_node("apply", _udf("return XarrayDataCube(a.copy(data=np.full(a.shape, 'dry')))")))
    with pytest.raises(UdfError, match="returned <U3 values; apply expects numbers"):
        materialize(out)


def test_a_udf_writing_in_place_leaves_other_readers_of_its_input_alone():
    body = "a.values[:] = 0\nreturn cube"
    nodes = {**_node("apply", _udf(body)),
             "m": {"process_id": "merge_cubes", "arguments": {
                 "cube1": {"from_node": "a"}, "cube2": {"from_node": "load"},
                 "overlap_resolver": {"process_graph": {"s": {"process_id": "subtract", "result": True, "arguments": {
                     "x": {"from_parameter": "x"}, "y": {"from_parameter": "y"}}}}}}}}
    np.testing.assert_array_equal(materialize(built(nodes)), -s2_values())


def test_context_from_the_parent_process_reaches_the_udf():
    callback = _udf("return XarrayDataCube(a.fillna(0) * 0 + context['k'])", context={"from_parameter": "context"})
    out = built(_node("apply", callback, context={"k": 7}))
    assert np.all(materialize(out) == 7)
