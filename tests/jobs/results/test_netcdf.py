"""netCDF output: staged (height, width, bands) rasters -> one CF netCDF file, read back with xarray (an independent reader)."""
import numpy as np
import pytest
import xarray as xr

from jobs.plan.grid import TileGrid
from jobs.results.netcdf import write_netcdf

GRID = TileGrid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 5100000.0), (6, 5))


def staged(values, dtype):
    """(bands, y, x) values as the results writer stages them: (y, x, bands)."""
    return np.moveaxis(values.astype(dtype), 0, -1)


@pytest.mark.parametrize("labels", [["2023-03-05", "2023-04-09"], ["2023-06", "2023-jja"], [None]],
                         ids=["dates", "periods", "reduced"])
def test_round_trip_values_coordinates_and_time(tmp_path, labels):
    rng = np.random.default_rng(1)
    stacks = [rng.random((2, *GRID.shape)).astype("float32") for _ in labels]
    stacks[0][1, 2, 3] = np.nan
    rasters = [(label, staged(s, "float32")) for label, s in zip(labels, stacks)]
    target = tmp_path / "result.nc"
    write_netcdf(target, rasters, ["B04", "B08"], GRID, "float32", float("nan"))
    with xr.open_dataset(target) as ds:
        np.testing.assert_allclose(ds["x"].values, 500005.0 + 10.0 * np.arange(5))
        np.testing.assert_allclose(ds["y"].values, 5099995.0 - 10.0 * np.arange(6))
        assert "32633" in ds["spatial_ref"].attrs["crs_wkt"] or "UTM zone 33N" in ds["spatial_ref"].attrs["crs_wkt"]
        for bi, band in enumerate(["B04", "B08"]):
            got = ds[band].values
            want = np.stack([s[bi] for s in stacks]) if labels[0] else stacks[0][bi]
            assert ds[band].dims == (("t", "y", "x") if labels[0] else ("y", "x"))
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            np.testing.assert_allclose(got, want)
        if labels == ["2023-03-05", "2023-04-09"]:
            assert [str(t)[:10] for t in ds["t"].values] == labels
        elif labels[0]:
            assert list(ds["t"].values) == labels


def test_integer_bands_keep_dtype_and_nodata(tmp_path):
    values = np.arange(30, dtype="int16").reshape(1, 6, 5)
    values[0, 0, 0] = -9999
    write_netcdf(tmp_path / "r.nc", [("2010-06-04", staged(values, "int16"))], ["B3"], GRID, "int16", -9999)
    with xr.open_dataset(tmp_path / "r.nc", mask_and_scale=False) as ds:
        assert ds["B3"].dtype == np.int16 and ds["B3"].attrs["_FillValue"] == -9999
        np.testing.assert_array_equal(ds["B3"].values[0], values[0])
