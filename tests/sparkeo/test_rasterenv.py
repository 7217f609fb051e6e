"""sparkeo.rasterenv: GDAL options, reads from a real S3 server, and how GDAL errors are classified."""
from __future__ import annotations

import numpy as np
import pytest

from sparkeo.rasterenv import describe_read_error, gdal_options, is_transient_read_error, rasterio_env
from sparkeo.settings import Settings
from tests.fixtures.fault_proxy import FaultPlan


@pytest.fixture(scope="module")
def cog(tmp_path_factory):
    """A 1024x1024 deflate COG with 256 px blocks (several range requests to read it all)."""
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path_factory.mktemp("cog") / "b04.tif"
    values = np.random.default_rng(7).integers(0, 4000, (1024, 1024)).astype("uint16")
    with rasterio.open(path, "w", driver="COG", width=1024, height=1024, count=1, dtype="uint16",
                       crs="EPSG:32631", transform=from_origin(600000, 5000000, 10, 10),
                       compress="deflate", blocksize=256, overviews="none") as dst:
        dst.write(values, 1)
    return path, values


def _read(href: str, settings: Settings) -> np.ndarray:
    import rasterio

    with rasterio_env(settings), rasterio.open(href) as src:
        return src.read(1)


@pytest.mark.parametrize("endpoint,host,https", [
    ("http://127.0.0.1:9000", "127.0.0.1:9000", "NO"),
    ("https://s3.example.org", "s3.example.org", "YES"),
], ids=["http", "https"])
def test_gdal_options_carry_endpoint_and_retries(endpoint, host, https):
    opts = gdal_options(Settings(s3_endpoint=endpoint, gdal_http_max_retry=7, gdal_http_retry_delay=0.25))
    assert (opts["AWS_S3_ENDPOINT"], opts["AWS_HTTPS"], opts["AWS_VIRTUAL_HOSTING"]) == (host, https, "FALSE")
    assert (opts["GDAL_HTTP_MAX_RETRY"], opts["GDAL_HTTP_RETRY_DELAY"]) == (7, 0.25)
    assert opts["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"


def test_no_endpoint_no_s3_options():
    opts = gdal_options(Settings())
    assert not any(k.startswith("AWS_") for k in opts)


def test_credentials_travel_in_settings_not_environment(s3, cog, monkeypatch):
    """An executor may not have the driver's AWS variables: Settings alone must be enough."""
    path, values = cog
    s3.server.client().upload_file(str(path), s3.name, "creds/b04.tif")
    settings = Settings.from_env()
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    assert np.array_equal(_read(f"/vsis3/{s3.name}/creds/b04.tif", settings), values)
    assert np.array_equal(_read(f"s3://{s3.name}/creds/b04.tif", settings), values)  # rasterio's own s3://


def test_gdal_retries_503_and_resets_to_an_identical_read(moto_server, cog, fault_proxy):
    path, values = cog
    bucket = moto_server.create_bucket("rasterenv-flaky")  # fixed name: the proxy's draws repeat
    moto_server.client().upload_file(str(path), bucket.name, "flaky/b04.tif")
    # a seed whose draws give both a 503 and a reset on the requests this read makes
    fault_proxy.set_plan(FaultPlan(seed=1, error_fraction=0.3, reset_fraction=0.2, max_faults_per_request=2))
    settings = Settings.from_env(moto_server.env(fault_proxy.endpoint), gdal_http_retry_delay=0.01)
    assert np.array_equal(_read(f"/vsis3/{bucket.name}/flaky/b04.tif", settings), values)
    stats = fault_proxy.stats
    assert stats.get("errors_503", 0) > 0 and stats.get("resets", 0) > 0, stats
    assert stats["range_gets"] > stats["errors_503"] + stats["resets"]


def _failure(href: str, settings: Settings) -> Exception:
    with pytest.raises(Exception) as err:
        _read(href, settings)
    return err.value


@pytest.mark.parametrize("fault", ["503", "reset"])
def test_network_faults_past_gdal_retries_are_transient(s3, cog, fault_proxy, fault):
    path, _ = cog
    key = f"hard-{fault}/b04.tif"
    s3.server.client().upload_file(str(path), s3.name, key)
    fault_proxy.set_plan(FaultPlan(error_fraction=1.0 if fault == "503" else 0.0,
                                   reset_fraction=1.0 if fault == "reset" else 0.0, max_faults_per_request=100))
    settings = Settings.from_env(s3.server.env(fault_proxy.endpoint), gdal_http_max_retry=1,
                                 gdal_http_retry_delay=0.01)
    href = f"/vsis3/{s3.name}/{key}"
    exc = _failure(href, settings)
    assert is_transient_read_error(exc, href), describe_read_error(exc)
    assert "see previous exception" not in describe_read_error(exc).lower()


@pytest.mark.parametrize("max_retry", [0, 2])
def test_gdal_http_max_retry_setting_is_honoured(s3, cog, fault_proxy, max_retry):
    path, _ = cog
    key = f"retry-{max_retry}/b04.tif"
    s3.server.client().upload_file(str(path), s3.name, key)
    fault_proxy.set_plan(FaultPlan(error_fraction=1.0, max_faults_per_request=100))
    settings = Settings.from_env(s3.server.env(fault_proxy.endpoint), gdal_http_max_retry=max_retry,
                                 gdal_http_retry_delay=0.01)
    _failure(f"/vsis3/{s3.name}/{key}", settings)
    assert fault_proxy.stats["range_gets"] == max_retry + 1  # the first request, then its retries


def test_missing_and_corrupt_objects_are_permanent(s3, tmp_path):
    client = s3.server.client()
    client.put_object(Bucket=s3.name, Key="bad/corrupt.tif", Body=b"this is not a GeoTIFF" * 100)
    settings = Settings.from_env(gdal_http_retry_delay=0.01)
    local = tmp_path / "corrupt.tif"
    local.write_bytes(b"II*\x00garbage" * 50)
    for href in (f"/vsis3/{s3.name}/bad/missing.tif", f"/vsis3/{s3.name}/bad/corrupt.tif", str(local)):
        exc = _failure(href, settings)
        assert not is_transient_read_error(exc, href), (href, describe_read_error(exc))


def test_short_block_read_is_transient_only_when_remote():
    from rasterio.errors import RasterioIOError

    try:
        try:
            raise OSError("TIFFFillTile:Read error at row 0, col 0, tile 0; got 0 bytes, expected 4096")
        except OSError as inner:
            raise RasterioIOError("Read failed. See previous exception for details.") from inner
    except RasterioIOError as exc:
        short = exc
    assert is_transient_read_error(short, "/vsis3/eodata/a.tif")
    assert not is_transient_read_error(short, "/eodata/a.tif")
    assert describe_read_error(short) == "TIFFFillTile:Read error at row 0, col 0, tile 0; got 0 bytes, expected 4096"


def test_gdal_http_errors_are_recognised_by_type_not_by_name():
    from rasterio._err import CPLE_HttpResponseError
    from rasterio.errors import RasterioIOError

    def chained(inner: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException as cause:
                raise RasterioIOError("Read failed. See previous exception for details.") from cause
        except RasterioIOError as exc:
            return exc

    # a message with none of the transient words: only the class says it was an HTTP failure
    assert is_transient_read_error(chained(CPLE_HttpResponseError(11, 1, "HTTP response code: 418")), "/eodata/a.tif")
    lookalike = type("CPLE_HttpResponseError", (Exception,), {})("HTTP response code: 418")
    assert not is_transient_read_error(chained(lookalike), "/eodata/a.tif")
