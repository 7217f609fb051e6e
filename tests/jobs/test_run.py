"""jobs.run on the shared local Spark session: the demo composite against numpy, pass-through,
unreadable assets (fail with href / soft_errors), budgets, progress events, results layout."""
from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio

from jobs.results.location import ResultsLocationError
from jobs.errors import BudgetExceeded, TooManySkippedAssets, UnreadableAssetError
from jobs.run import run_job
from sparkeo.errors import UserError
from sparkeo.identity import Caller
from sparkeo.names import InvalidJobId
from sparkeo.settings import Settings
from tests.stac_schemas import assert_valid_stac
from tests.system.test_s3_results import write_results
from tests.shared_location import CHECKOUT

DEMO = CHECKOUT / "examples" / "ndvi_median.json"
MASKED_SCL = (0, 3, 8, 9, 10)


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), tile_size=64, read_retry_delay=0.0)


def sample_items(catalog: str) -> list[dict]:
    """The sample's STAC items (read directly, not through sparkeo), sorted by datetime."""
    root = Path(catalog).parent
    items = [json.loads(p.read_text()) for p in root.glob("sample-s2/*/*.json")]
    for item in items:
        item["_dir"] = next(root.glob(f"sample-s2/{item['id']}"))
    return sorted(items, key=lambda i: i["properties"]["datetime"])


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def numpy_ndvi_median(catalog: str, masked_classes=MASKED_SCL) -> np.ndarray:
    """The demo composite computed independently: SCL classes masked, NDVI, nanmedian over time."""
    stack = []
    for item in sample_items(catalog):
        red = read(item["_dir"] / "B04.tif").astype(np.float64)
        nir = read(item["_dir"] / "B08.tif").astype(np.float64)
        scl = read(item["_dir"] / "SCL.tif")
        invalid = np.isin(scl, masked_classes) | (red == 0) | (nir == 0)      # B04/B08 nodata is 0
        with np.errstate(invalid="ignore", divide="ignore"):
            ndvi = (nir - red) / (nir + red)
        ndvi[invalid] = np.nan
        stack.append(ndvi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # all-NaN pixels: NaN is the answer
        return np.nanmedian(np.stack(stack), axis=0)


def run(spark, settings, catalog, output, graph=None, job_id="t-job", options=None, progress=None):
    text = graph if isinstance(graph, str) else json.dumps(graph) if graph else DEMO.read_text()
    return run_job(text, str(output), job_id, catalog, options, settings, Caller(), spark=spark, progress=progress)


def spill_folders() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob("sparkeo-tiles-*")}


def test_demo_composite_equals_numpy(spark, settings, sample_small, tmp_path):
    events = []
    before = spill_folders()
    summary = run(spark, settings, sample_small, tmp_path / "demo", progress=events.append)
    assert spill_folders() <= before           # local[2] spilled its tiles to files; all gone now
    out = tmp_path / "demo"
    assert sorted(p.name for p in out.iterdir()) == ["collection.json", "job_metadata.json", "result.json",
                                                     "result.tif"]
    with rasterio.open(out / "result.tif") as ds:
        got = ds.read(1)
        assert ds.dtypes == ("float32",) and np.isnan(ds.nodata)
        assert ds.descriptions == ("ndvi",)                 # ndvi's output, not "band_1"
        assert ds.shape == (128, 128)
    expect = numpy_ndvi_median(sample_small)
    unmasked = numpy_ndvi_median(sample_small, masked_classes=(0,))
    assert np.nanmax(np.abs(unmasked - expect)) > 0.05          # the cloud mask matters on this data
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    valid = ~np.isnan(expect)
    assert np.abs(got[valid] - expect[valid]).max() <= 1e-5
    # usage: 4 tiles of 64 px; 8 dates x 3 bands x 128 x 128 pixels read exactly once
    md = json.loads((out / "job_metadata.json").read_text())
    assert md["usage"]["tiles"] == 4 and summary.usage["tiles"] == 4
    assert md["usage"]["input_pixels"] == 8 * 3 * 128 * 128
    assert md["usage"]["bytes_read"] == 8 * 128 * 128 * (2 + 2 + 1)
    assert md["usage"]["cpu_seconds"] > 0 and md["usage"]["task_attempts"] == 0
    # one strip: the executor encoded every level; the driver got block sizes, no pixels
    assert 0 < md["usage"]["driver_received_bytes"] < 512
    assert md["status"] == "finished" and len(md["inputs"]) == 8 and len(md["graph_sha256"]) == 64
    assert [e.done for e in events] == [1, 2, 3, 4] and {e.total for e in events} == {4}
    # the demo's documents validate, and record where the composite came from
    collection, item = (json.loads((out / name).read_text()) for name in ("collection.json", "result.json"))
    for doc in (collection, item):
        assert_valid_stac(doc)
    assert [b["name"] for b in item["assets"]["data"]["bands"]] == ["ndvi"]
    derived = [link["href"] for link in item["links"] if link["rel"] == "derived_from"]
    assert sorted(json.loads(Path(h).read_text())["id"] for h in derived) == sorted(md["inputs"])
    assert collection["sparkeo:provenance"]["catalog"] == sample_small
    assert collection["sparkeo:provenance"]["process_graph"] == json.loads(DEMO.read_text())


@pytest.mark.parametrize("inline_bytes, shipped_as", [(4 << 20, "Inline"), (0, "Broadcast")])
def test_the_dag_rides_inside_tasks_when_small_and_as_a_broadcast_when_large(
        spark, settings, sample_small, tmp_path, monkeypatch, inline_bytes, shipped_as):
    import jobs.spark.execute as execute

    settings = settings.replace(inline_dag_bytes=inline_bytes)      # SPARKEO_INLINE_DAG_BYTES; 0: always broadcast
    shipped, real_ship = [], execute.ship

    def recording_ship(*args):
        shipped.append(real_ship(*args))
        return shipped[-1]
    monkeypatch.setattr(execute, "ship", recording_ship)
    run(spark, settings, sample_small, tmp_path / "out")
    assert [type(s).__name__ for s in shipped] == [shipped_as]
    got = read(tmp_path / "out" / "result.tif")
    expect = numpy_ndvi_median(sample_small)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    assert np.nanmax(np.abs(got - expect)) <= 1e-5


def test_time_series_passthrough_keeps_source_values_and_dtype(spark, settings, sample_small, tmp_path):
    graph = {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {
            "id": "sample-s2", "temporal_extent": ["2023-03-01", "2023-05-01"], "bands": ["red"]}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "load"}, "format": "GTiff"},
                 "result": True}}}
    run(spark, settings, sample_small, tmp_path / "ts", graph)
    items = [i for i in sample_items(sample_small) if i["properties"]["datetime"] < "2023-05-01"]
    doc = json.loads((tmp_path / "ts" / "collection.json").read_text())
    assert len(items) == 2 and len(doc["assets"]) == 2
    for item in items:
        day = item["properties"]["datetime"][:10]
        with rasterio.open(tmp_path / "ts" / f"{day}.tif") as ds:
            assert ds.dtypes == ("uint16",) and ds.nodata == 0 and ds.descriptions == ("B04",)
            np.testing.assert_array_equal(ds.read(1), read(item["_dir"] / "B04.tif"))
        assert doc["assets"][day]["datetime"].startswith(day)


@pytest.fixture
def corrupt_sample(sample_small, tmp_path):
    """A copy of the sample with one B08 file truncated; returns (layercatalog.json, bad href)."""
    copy = tmp_path / "sample"
    shutil.copytree(Path(sample_small).parent, copy)
    bad = sorted(copy.glob("sample-s2/*/B08.tif"))[2]
    bad.write_bytes(bad.read_bytes()[:500])
    return str(copy / "layercatalog.json"), str(bad)


def test_unreadable_asset_fails_with_href_and_leaves_no_document(spark, settings, corrupt_sample, tmp_path):
    catalog, bad = corrupt_sample
    out = tmp_path / "out"
    with pytest.raises(UnreadableAssetError) as err:
        run(spark, settings, catalog, out)
    assert err.value.href == bad and bad in str(err.value) and err.value.exit_code == 1
    assert not (out / "collection.json").exists()
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_soft_errors_skip_and_count_within_the_allowed_fraction(spark, settings, corrupt_sample, tmp_path):
    catalog, bad = corrupt_sample
    run(spark, settings, catalog, tmp_path / "soft", options={"soft_errors": 0.1})
    md = json.loads((tmp_path / "soft" / "job_metadata.json").read_text())
    assert md["skipped_assets"] == [bad]
    assert (tmp_path / "soft" / "collection.json").exists()
    with pytest.raises(TooManySkippedAssets) as err:          # 1 of 24 assets is more than 1%
        run(spark, settings, catalog, tmp_path / "strict", options={"soft_errors": 0.01})
    assert "1 of 24" in str(err.value) and bad in str(err.value)
    assert not (tmp_path / "strict" / "collection.json").exists()


def test_budget_cap_refuses_before_spark_with_the_estimate(settings, sample_small, tmp_path):
    with pytest.raises(BudgetExceeded) as err:
        run(None, settings, sample_small, tmp_path / "b", options={"max_input_pixels": 1000})
    assert f"{8 * 3 * 128 * 128:,}" in str(err.value) and err.value.exit_code == 2
    assert not (tmp_path / "b").exists()


def test_a_refused_run_leaves_the_previous_results_complete(settings, sample_small, tmp_path):
    """Budget cap, unknown collection: refused before the results location is touched (issue 16.3)."""
    from click.testing import CliRunner

    from sparkeo.cli.main import cli

    out = tmp_path / "out"
    write_results(str(out), ("2021-06-01",), job_id="old-job")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(BudgetExceeded):
        run(None, settings, sample_small, out, options={"max_input_pixels": 1000})
    unknown = json.loads(DEMO.read_text())
    unknown["process_graph"]["load"]["arguments"]["id"] = "sentinel-9"
    with pytest.raises(UserError, match="sentinel-9"):
        run(None, settings, sample_small, out, graph=unknown)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    result = CliRunner().invoke(cli, ["results", str(out)])
    assert result.exit_code == 0 and "(job old-job, finished)" in result.output, result.output


def test_a_folder_of_foreign_files_is_refused_before_spark(settings, sample_small, tmp_path):
    out = tmp_path / "my-documents"
    out.mkdir()
    (out / "notes.txt").write_text("my own notes")
    with pytest.raises(ResultsLocationError) as err:
        run(None, settings, sample_small, out)
    assert err.value.exit_code == 2 and str(out) in str(err.value)
    assert [(p.name, p.read_text()) for p in out.iterdir()] == [("notes.txt", "my own notes")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-documents"]     # nothing staged beside it


def test_a_job_id_cannot_name_a_folder_outside_results(settings, sample_small, tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "results").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("not sparkeo's")
    monkeypatch.chdir(work)
    with pytest.raises(InvalidJobId) as err:      # ./results/../../victim is tmp_path/victim
        run_job(DEMO.read_text(), None, "../../victim", sample_small, None, settings, Caller())
    assert err.value.exit_code == 2 and "'../../victim'" in str(err.value)
    assert [p.name for p in victim.iterdir()] == ["keep.txt"] and not any((work / "results").iterdir())


def test_results_load_again_as_a_collection(spark, settings, sample_small, tmp_path):
    """Jobs chain: the results document of one run is the input collection of the next."""
    from layercatalog.document import layer_entry_for_stac_collection

    first = tmp_path / "first"
    run(spark, settings, sample_small, first, job_id="first-job")
    doc = json.loads((first / "collection.json").read_text())
    items = [json.loads((first / link["href"]).read_text()) for link in doc["links"] if link["rel"] == "item"]
    assert [i["assets"]["data"]["href"] for i in items] == ["./result.tif"]
    entry = layer_entry_for_stac_collection(doc, str(first / "collection.json"), items)
    catalog = tmp_path / "chain.json"
    catalog.write_text(json.dumps([entry]))
    graph = {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {"id": "first-job"}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "load"}, "format": "GTiff"},
                 "result": True}}}
    run(spark, settings, str(catalog), tmp_path / "second", graph, job_id="second-job")
    with rasterio.open(first / "result.tif") as a:
        with rasterio.open(tmp_path / "second" / f"{items[0]['properties']['start_datetime'][:10]}.tif") as b:
            assert a.crs == b.crs and a.transform == b.transform
            np.testing.assert_array_equal(a.read(1), b.read(1))


def test_task_attempts_counts_failed_spark_attempts(spark):
    from jobs.spark.sparkjobs import task_attempts

    sc = spark.sparkContext

    def fail_on_one(x):
        if x == 1:
            raise ValueError("boom")
        return x
    sc.setJobGroup("sparkeo-test-attempts", "a failing task")
    try:
        with pytest.raises(Exception, match="boom"):
            sc.parallelize([0, 1], 2).map(fail_on_one).collect()
        sc.parallelize([0, 1], 2).collect()                      # a clean job in the same group
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)           # later tests run outside the group
    assert task_attempts(sc, "sparkeo-test-attempts") == 1
    assert task_attempts(sc, "sparkeo-no-such-group") == 0


def test_python_workers_fork_from_the_engine_daemon(spark):
    import os

    def parent_command(_):
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode()
    parents = spark.sparkContext.parallelize([0, 1], 2).map(parent_command).collect()
    assert all("-m jobs.spark.daemon" in p for p in parents), parents


# A forked worker whose task wrote output the JVM will never read: the JVM closed its socket
# (a cancelled task), so the worker's last flush fails. Spark runs the daemon with
# PYTHON_DAEMON_KILL_WORKER_ON_FLUSH_FAILURE set (spark.python.daemon.killWorkerOnFlushFailure).
CANCELLED_WORKER = """
import socket, sys
import pyspark.daemon, pyspark.worker
from jobs.spark.daemon import quiet_on_cancel

def task_writing_output(infile, outfile):
    outfile.write(b"x" * 4096)
pyspark.worker.main = task_writing_output
ours, jvm = socket.socketpair()
jvm.close()
worker = quiet_on_cancel(pyspark.daemon.worker) if sys.argv[1] == "quiet" else pyspark.daemon.worker
print("exit", worker(ours, True))
"""


@pytest.mark.parametrize("daemon", ["plain", "quiet"])
def test_a_cancelled_task_ends_its_worker_quietly(daemon):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHON_DAEMON_KILL_WORKER_ON_FLUSH_FAILURE": "true"}
    proc = subprocess.run([sys.executable, "-c", CANCELLED_WORKER, daemon], capture_output=True, text=True, env=env)
    if daemon == "plain":           # PySpark's own worker function: what reached the user's terminal before
        assert "BrokenPipeError" in proc.stderr
    else:
        assert proc.returncode == 0 and proc.stdout.split() == ["exit", "1"], proc.stderr
        assert "Traceback" not in proc.stderr


def test_python_workers_talk_to_the_jvm_over_unix_sockets(spark):
    def connection(_):
        import os

        return os.environ.get("PYTHON_UNIX_DOMAIN_ENABLED", "false").lower()   # what pyspark.daemon reads
    # over loopback TCP each task's input waited ~40 ms for a delayed ACK (jobs/spark/session.py)
    assert spark.sparkContext.parallelize([0, 1], 2).map(connection).collect() == ["true", "true"]


def test_driver_jvm_compiles_with_c1_only(spark):
    from jobs.spark.session import DRIVER_JIT

    runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    assert DRIVER_JIT in list(runtime.getInputArguments())


def test_python_workers_inherit_the_engine_frozen_out_of_the_garbage_collector(spark):
    def frozen_objects(_):
        import gc
        import sys

        return gc.get_freeze_count(), "jobs.processes.all" in sys.modules
    # the ~60 000 objects of numpy, rasterio and the engine, which no worker's collection walks
    for count, engine_loaded in spark.sparkContext.parallelize([0, 1], 2).map(frozen_objects).collect():
        assert count > 10_000 and engine_loaded


# A job in a fresh driver with every speed device off. The settings are given as flags (not in the
# environment), so the worker side sees them only as the driver hands them on: Spark conf, the
# executors' environment, the tasks.
SPEED_DEVICES_OFF = """
import json, sys
import jobs.spark.execute as execute
from jobs.run import run_job
from sparkeo.identity import Caller
from sparkeo.settings import Settings

overrides, catalog, output, graph = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
shipped, transports, real_ship, real_transport = [], [], execute.ship, execute.TileTransport


class RecordingTransport(real_transport):
    @classmethod
    def for_master(cls, master, spill=True):
        transports.append(real_transport.for_master(master, spill))
        return transports[-1]


execute.ship = lambda *args: shipped.append(real_ship(*args)) or shipped[-1]
execute.TileTransport = RecordingTransport
settings = Settings.from_env(**overrides)
run_job(open(graph).read(), output, "speed-off", catalog, None, settings, Caller())


def worker(_):
    import os
    from tests.jobs.spark.test_allocator import mmaps_for_a_tile_array

    with open(f"/proc/{os.getppid()}/cmdline", "rb") as fh:
        parent = fh.read().replace(b"\\0", b" ").decode()
    return {"parent": parent, "unix": os.environ.get("PYTHON_UNIX_DOMAIN_ENABLED", "false").lower(),
            "mmaps": mmaps_for_a_tile_array()}


from pyspark.sql import SparkSession
sc = SparkSession.getActiveSession().sparkContext
runtime = sc._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
print(json.dumps({"workers": sc.parallelize([0, 1], 2).map(worker).collect(),
                  "jvm_args": list(runtime.getInputArguments()),
                  "shipped": [type(s).__name__ for s in shipped],
                  "spilled": [t.spill_folder is not None for t in transports]}))
"""


@pytest.mark.parametrize("overrides", [
    {"worker_daemon": False, "malloc_mmap_threshold": 0, "malloc_trim_threshold": 0, "driver_c1_jit": False,
     "inline_dag_bytes": 0, "python_unix_sockets": False, "spill_tiles": False, "gdal_cache_mb": 4,
     "cog_encode_threads": 1, "driver_heap_region_mb": 0},
    {"malloc_mmap_threshold": 0, "malloc_trim_threshold": 0},
], ids=["all-off", "malloc-off-under-the-daemon"])
def test_speed_devices_turned_off_give_the_same_composite_and_are_off_on_the_workers(sample_small, tmp_path,
                                                                                     overrides):
    import os
    import subprocess
    import sys

    repo = CHECKOUT
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKEO_")}
    env["PYTHONPATH"] = str(repo)
    overrides = {**overrides, "cache_dir": str(tmp_path / "cache"), "tile_size": 64}
    proc = subprocess.run([sys.executable, "-c", SPEED_DEVICES_OFF, json.dumps(overrides), sample_small,
                           str(tmp_path / "out"), str(DEMO)], capture_output=True, text=True, env=env, cwd=repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    got, expect = read(tmp_path / "out" / "result.tif"), numpy_ndvi_median(sample_small)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    assert np.nanmax(np.abs(got - expect)) <= 1e-5
    # mallopt never called: a 16 MB array is still an mmap of its own in each worker
    assert [w["mmaps"] for w in seen["workers"]] == [1, 1]
    all_off = overrides.get("worker_daemon") is False
    assert all(("-m jobs.spark.daemon" in w["parent"]) != all_off for w in seen["workers"]), seen["workers"]
    assert {w["unix"] for w in seen["workers"]} == {"false" if all_off else "true"}
    assert ("-XX:TieredStopAtLevel=1" in seen["jvm_args"]) != all_off
    assert ("-XX:G1HeapRegionSize=4m" in seen["jvm_args"]) != all_off
    assert seen["shipped"] == ["Broadcast" if all_off else "Inline"]
    assert seen["spilled"] == [not all_off]


def test_daemon_preload_imports_the_engine():
    import subprocess
    import sys

    code = ("import sys, jobs.spark.daemon; jobs.spark.daemon.preload(); "
            "print(all(m in sys.modules for m in jobs.spark.daemon.ENGINE_MODULES))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@pytest.fixture(scope="module")
def sample_600(tmp_path_factory) -> str:
    """A 600 px sample: three 256-row strips of output, overviews below the full resolution."""
    from layercatalog.sample import write_sample

    return write_sample(str(tmp_path_factory.mktemp("sample-600")), size=600, dates=3, seed=4)


def test_executors_write_the_cog_the_driver_would_have_written(spark, settings, sample_600, tmp_path):
    """The same job with the COG encoded and staged on the executors (strips the driver stitches)
    and with every tile sent to the driver: byte-identical files; the driver received only a
    few hundred bytes of block sizes and names, no pixel."""
    import dataclasses

    options = {"tile_size": 128}
    old = run(spark, dataclasses.replace(settings, executor_writes=False), sample_600, tmp_path / "old",
              options=options)
    new = run(spark, settings, sample_600, tmp_path / "new", options=options)
    assert (tmp_path / "new" / "result.tif").read_bytes() == (tmp_path / "old" / "result.tif").read_bytes()
    with rasterio.open(tmp_path / "new" / "result.tif") as ds:
        assert ds.height > 512 and len(ds.overviews(1)) == 2          # three strips, two overviews
        output_bytes = ds.height * ds.width * 4
    assert old.usage["driver_received_bytes"] == output_bytes
    assert 0 < new.usage["driver_received_bytes"] < 2048
    assert new.usage["tiles"] == old.usage["tiles"]
    assert not list(tmp_path.glob(".new.staging-*"))


def test_a_task_pixel_cap_has_the_driver_write_the_cog(spark, settings, sample_600, tmp_path, monkeypatch):
    """``task_max_pixels`` (the local web API's one tile per task) cannot hold on executor-written
    strips (whole block rows of the output): the driver writes, from Spark tasks of at most one tile."""
    import dataclasses

    import jobs.spark.execute
    from jobs.results.stripwriter import executor_writes

    assert executor_writes(str(tmp_path), "GTiff", True) and not executor_writes(str(tmp_path), "GTiff", True,
                                                                                  task_max_pixels=128 * 128)
    groups, grouped = [], jobs.spark.execute.tile_groups

    def recorded(*args, **kwargs):      # the groups of tiles Spark runs, one task each
        made = grouped(*args, **kwargs)
        groups.extend(made)
        return made

    monkeypatch.setattr(jobs.spark.execute, "tile_groups", recorded)
    capped = dataclasses.replace(settings, task_max_pixels=128 * 128)
    summary = run(spark, capped, sample_600, tmp_path / "capped", options={"tile_size": 128})
    with rasterio.open(tmp_path / "capped" / "result.tif") as ds:
        assert summary.usage["driver_received_bytes"] == ds.height * ds.width * 4       # tiles came to the driver
    assert len(groups) == summary.usage["tiles"] == 25
    assert max(sum(t.window.height * t.window.width for t in g) for g in groups) <= 128 * 128


def test_tiled_output_is_one_cog_and_item_per_cell_written_by_the_executors(spark, settings, sample_600, tmp_path):
    """save_result's ``tile_grid``: 2 km cells (200 px), each its own COG and STAC item with its own
    grid, the pixels those of the single COG; collection.json lists them all; no pixel reached the driver."""
    graph = json.loads(DEMO.read_text())
    graph["process_graph"]["save"]["arguments"]["options"] = {"tile_grid": "utm-2km"}
    single = run(spark, settings, sample_600, tmp_path / "single", options={"tile_size": 128})
    tiled = run(spark, settings, sample_600, tmp_path / "tiled", graph=graph, options={"tile_size": 128})
    with rasterio.open(tmp_path / "single" / "result.tif") as ds:
        whole, transform = ds.read(1), ds.transform
    collection = json.loads((tmp_path / "tiled" / "collection.json").read_text())
    cells = sorted(collection["assets"])
    assert len(cells) >= 4 and all(k.startswith("result_r") for k in cells)
    covered = np.zeros(whole.shape, bool)
    for key in cells:
        with rasterio.open(tmp_path / "tiled" / f"{key}.tif") as ds:
            col, row = ~transform @ (ds.transform.c, ds.transform.f)
            r, c = int(round(row)), int(round(col))
            assert ds.transform.c % 2000 == 0 or c == 0                 # cell edges on multiples of 2 km
            np.testing.assert_array_equal(ds.read(1), whole[r:r + ds.height, c:c + ds.width])
            covered[r:r + ds.height, c:c + ds.width] = True
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG" or max(ds.shape) <= 256
        item = json.loads((tmp_path / "tiled" / f"{key}.json").read_text())
        assert_valid_stac(item)
        assert item["properties"]["proj:transform"][:6] == list(ds.transform)[:6]
        assert item["properties"]["proj:shape"] == [ds.height, ds.width]
    assert covered.all()
    assert tiled.files[-1].endswith("collection.json") and tiled.usage["driver_received_bytes"] == 0
    assert single.usage["tiles"] > 0 and tiled.usage["tiles"] == len(cells)
