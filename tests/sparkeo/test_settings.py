"""Settings precedence (flags > environment > defaults), the speed-device settings, GDAL options and the
caller identity."""
import pytest

from sparkeo.errors import ConfigError, UserError
from sparkeo.identity import Caller
from sparkeo.rasterenv import gdal_options
from sparkeo.settings import Settings


def test_environment_overrides_defaults_and_flags_override_environment():
    env = {"SPARKEO_TILE_SIZE": "512", "SPARKEO_CATALOG": "/cat.json", "AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}
    s = Settings.from_env(env)
    assert (s.tile_size, s.catalog, s.s3_endpoint) == (512, "/cat.json", "http://127.0.0.1:9000")
    s2 = Settings.from_env(env, tile_size=128, catalog=None)
    assert s2.tile_size == 128 and s2.catalog == "/cat.json"   # None flags fall through
    assert Settings.from_env({}).tile_size is None     # automatic: the plan follows the blocks


def test_bad_environment_value_is_a_user_error_naming_the_variable():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"SPARKEO_TILE_SIZE": "big"})
    assert isinstance(err.value, UserError)
    assert "SPARKEO_TILE_SIZE" in str(err.value) and "'big'" in str(err.value)


def test_to_env_round_trips():
    s = Settings.from_env({}, tile_size=300, s3_endpoint="https://s3.example:8443", read_retries=7)
    assert Settings.from_env(s.to_env()) == s


SPEED_ENV = {"SPARKEO_WORKER_DAEMON": "off", "SPARKEO_MALLOC_MMAP_THRESHOLD": "0", "SPARKEO_MALLOC_TRIM_THRESHOLD": "0",
             "SPARKEO_DRIVER_C1_JIT": "false", "SPARKEO_INLINE_DAG_BYTES": "0", "SPARKEO_PYTHON_UNIX_SOCKETS": "no",
             "SPARKEO_SPILL_TILES": "0", "SPARKEO_GDAL_CACHEMAX": "64", "SPARKEO_COG_THREADS": "1",
             "SPARKEO_DRIVER_HEAP_REGION_MB": "0"}


def test_speed_devices_default_to_the_measured_values_and_each_turns_off_from_the_environment():
    on = Settings.from_env({})
    assert (on.worker_daemon, on.driver_c1_jit, on.python_unix_sockets, on.spill_tiles) == (True,) * 4
    assert (on.malloc_mmap_threshold, on.malloc_trim_threshold) == (32 << 20, 256 << 20)
    assert (on.inline_dag_bytes, on.gdal_cache_mb, on.cog_encode_threads) == (4 << 20, 32, 0)
    assert on.driver_heap_region_mb == 4
    off = Settings.from_env(SPEED_ENV)
    assert (off.worker_daemon, off.driver_c1_jit, off.python_unix_sockets, off.spill_tiles) == (False,) * 4
    assert (off.malloc_mmap_threshold, off.malloc_trim_threshold, off.inline_dag_bytes) == (0, 0, 0)
    assert (off.gdal_cache_mb, off.cog_encode_threads, off.driver_heap_region_mb) == (64, 1, 0)
    assert Settings.from_env(off.to_env()) == off and Settings.from_env(on.to_env()) == on   # to the executors
    assert off.to_env()["SPARKEO_WORKER_DAEMON"] == "false"
    assert Settings.from_env({"SPARKEO_WORKER_DAEMON": "YES"}, worker_daemon=False).worker_daemon is False


@pytest.mark.parametrize("env, variable", [
    ({"SPARKEO_WORKER_DAEMON": "maybe"}, "SPARKEO_WORKER_DAEMON"),
    ({"SPARKEO_INLINE_DAG_BYTES": "-1"}, "SPARKEO_INLINE_DAG_BYTES"),
    ({"SPARKEO_MALLOC_MMAP_THRESHOLD": str(64 << 20)}, "SPARKEO_MALLOC_MMAP_THRESHOLD"),    # glibc refuses it
    ({"SPARKEO_DRIVER_HEAP_REGION_MB": "2"}, "SPARKEO_DRIVER_HEAP_REGION_MB"),     # 1 MB task buffers humongous
    ({"SPARKEO_DRIVER_HEAP_REGION_MB": "5"}, "SPARKEO_DRIVER_HEAP_REGION_MB"),     # not a G1 region size
], ids=["not-a-boolean", "negative", "above-glibc-limit", "regions-too-small", "regions-not-a-power-of-two"])
def test_a_bad_speed_setting_is_a_user_error_naming_its_variable(env, variable):
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert variable in str(err.value) and next(iter(env.values())) in str(err.value)


def test_credentials_are_read_but_kept_out_of_repr_and_executor_env():
    env = {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_ENDPOINT_URL": "http://h:1"}
    s = Settings.from_env(env)
    assert (s.aws_access_key_id, s.aws_secret_access_key) == ("AKIA1", "s3cr3t")
    assert "s3cr3t" not in repr(s)
    assert "AWS_SECRET_ACCESS_KEY" not in s.to_env() and s.to_env()["AWS_ENDPOINT_URL"] == "http://h:1"
    assert Settings.from_env(s.to_env(include_secrets=True)) == s


def test_gdal_options_carry_endpoint_and_retries():
    opts = gdal_options(Settings.from_env({}, s3_endpoint="http://127.0.0.1:5000", gdal_http_max_retry=9))
    assert opts["AWS_S3_ENDPOINT"] == "127.0.0.1:5000"
    assert opts["AWS_HTTPS"] == "NO" and opts["AWS_VIRTUAL_HOSTING"] == "FALSE"
    assert opts["GDAL_HTTP_MAX_RETRY"] == 9
    assert opts["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"
    assert "AWS_S3_ENDPOINT" not in gdal_options(Settings.from_env({}))
    assert gdal_options(Settings())["GDAL_CACHEMAX"] == 32
    assert gdal_options(Settings(gdal_cache_mb=8))["GDAL_CACHEMAX"] == 8


def test_caller_groups_and_visibility(monkeypatch):
    monkeypatch.setenv("SPARKEO_USER", "ana")
    monkeypatch.setenv("SPARKEO_GROUPS", "eo, vito ,")
    c = Caller.from_values(None, None)
    assert c.user == "ana" and c.groups == {"eo", "vito"}
    assert c.may_see(()) and c.may_see(("vito",)) and not c.may_see(("esa",))
    assert Caller.from_values("bob", "").groups == frozenset()
