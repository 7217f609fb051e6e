"""Configuration: command-line flags, then ``SPARKEO_*`` environment variables, then defaults.

``Settings`` is an immutable value built once at the boundary (the CLI or the driver entry point)
and passed down; nothing below reads ``os.environ`` for sparkeo settings.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Mapping

from sparkeo.errors import ConfigError
from sparkeo.readpolicy import RESTRICTED, ReadPolicy


# G1's region sizes (powers of two up to 32 MB) that keep Spark's 1 MB task buffers under half a region;
# 0 leaves the JVM's own
DRIVER_HEAP_REGIONS_MB = (0, 4, 8, 16, 32)
# glibc refuses larger mmap thresholds on 64-bit (HEAP_MAX_SIZE / 2): larger blocks stay mmapped.
MAX_MMAP_THRESHOLD = 32 << 20


def _default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sparkeo")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with its environment variable in the field's metadata."""

    catalog: str | None = field(default=None, metadata={"env": "SPARKEO_CATALOG"})
    cache_dir: str = field(default_factory=_default_cache, metadata={"env": "SPARKEO_CACHE"})
    spark_master: str = field(default="local[2]", metadata={"env": "SPARKEO_SPARK_MASTER"})
    # None: the plan sizes tiles itself from the inputs' block layout (jobs.plan.blocks); a number fixes it
    tile_size: int | None = field(default=None, metadata={"env": "SPARKEO_TILE_SIZE"})
    read_retries: int = field(default=3, metadata={"env": "SPARKEO_READ_RETRIES"})
    read_retry_delay: float = field(default=0.5, metadata={"env": "SPARKEO_READ_RETRY_DELAY"})
    # S3: the standard boto3 variable; handed on to GDAL as AWS_S3_ENDPOINT etc.
    s3_endpoint: str | None = field(default=None, metadata={"env": "AWS_ENDPOINT_URL"})
    aws_region: str | None = field(default=None, metadata={"env": "AWS_DEFAULT_REGION"})
    # Credentials travel inside Settings to executors (tasks get Settings, not the driver's env);
    # to_env() leaves them out: on a cluster they come from Kubernetes Secret references.
    aws_access_key_id: str | None = field(default=None, repr=False,
                                          metadata={"env": "AWS_ACCESS_KEY_ID", "secret": True})
    aws_secret_access_key: str | None = field(default=None, repr=False,
                                              metadata={"env": "AWS_SECRET_ACCESS_KEY", "secret": True})
    aws_session_token: str | None = field(default=None, repr=False,
                                          metadata={"env": "AWS_SESSION_TOKEN", "secret": True})
    gdal_http_max_retry: int = field(default=5, metadata={"env": "SPARKEO_GDAL_HTTP_MAX_RETRY"})
    gdal_http_retry_delay: float = field(default=0.5, metadata={"env": "SPARKEO_GDAL_HTTP_RETRY_DELAY"})
    metrics_port: int = field(default=0, metadata={"env": "SPARKEO_METRICS_PORT"})
    # how long an ended job's driver keeps serving its final sparkeo_job_* values at most: it stops as
    # soon as they were scraped once (Prometheus' default interval is 60 s)
    metrics_linger: float = field(default=75.0, metadata={"env": "SPARKEO_METRICS_LINGER"})
    zookeeper: str | None = field(default=None, metadata={"env": "SPARKEO_ZOOKEEPER"})
    zookeeper_root: str = field(default="/sparkeo", metadata={"env": "SPARKEO_ZOOKEEPER_ROOT"})
    namespace: str = field(default="sparkeo", metadata={"env": "SPARKEO_NAMESPACE"})
    pushgateway: str | None = field(default=None, metadata={"env": "SPARKEO_PUSHGATEWAY"})

    # Speed devices: each was measured on the benchmark machine (README "Benchmark", 2 cores) and is
    # on by default; an operator turns one off here, without a code change, where the measurement
    # does not hold (a 64-core executor, a 1-core driver pod). Defaults leave every master as it was.
    # The driver hands them on (jobs.spark.session: Spark conf; ``to_env``: spark.executorEnv, read by the
    # worker daemon; the tasks carry ``Settings``). The session-level ones (daemon, Unix sockets, driver
    # JIT and heap regions) take effect when sparkeo creates the SparkSession; one that already runs
    # keeps its own.

    # Python workers fork from jobs.spark.daemon, which has numpy, rasterio, GDAL's drivers and the engine
    # loaded and frozen out of the garbage collector (``spark.python.daemon.module``); off: PySpark's
    # own daemon. Measured: 0.1-0.3 s of imports saved in each worker's first tile, and a third of a
    # new worker's first tile saved by ``gc.freeze`` (200-380 ms -> 170-200 ms).
    worker_daemon: bool = field(default=True, metadata={"env": "SPARKEO_WORKER_DAEMON"})
    # glibc malloc thresholds of the processes that compute tiles (jobs.spark.allocator), in bytes; 0 leaves
    # glibc's own (dynamic) threshold, and both 0 never call mallopt. Tile-sized arrays then come from
    # the heap instead of a fresh mmap each: 25 ms -> 7-9 ms of page faults per 512 px tile. The cost:
    # each worker keeps up to the trim threshold of free heap (x workers per executor).
    malloc_mmap_threshold: int = field(default=32 << 20, metadata={"env": "SPARKEO_MALLOC_MMAP_THRESHOLD"})
    malloc_trim_threshold: int = field(default=256 << 20, metadata={"env": "SPARKEO_MALLOC_TRIM_THRESHOLD"})
    # The driver JVM compiles with C1 only (``-XX:TieredStopAtLevel=1``): it only schedules tasks and
    # pipes bytes, and C2 took a third of both cores during the first job's tiles; C1 took ~0.2 s off
    # the first job on 2 cores. Applies where sparkeo launches the driver JVM (local runs), not under
    # spark-submit, whose JVM is already running.
    driver_c1_jit: bool = field(default=True, metadata={"env": "SPARKEO_DRIVER_C1_JIT"})
    # The driver JVM's G1 heap regions, in MB (``-XX:G1HeapRegionSize``), with Spark's broadcast blocks at a
    # quarter of a region (``spark.broadcast.blockSize``); 0: the JVM's own (1 MB under a 2 GB heap) and
    # Spark's (4 MB). G1 puts an object of half a region or more straight into the old generation and, at
    # each such allocation, checks whether to start a marking cycle. Every task's 1 MB serialization
    # buffer and every broadcast's 4 MB block was one: on local[2] a young pause in every job, and now and
    # then a JVM (1 in 7 of those logged) marking in every job, 130-270 ms of JVM CPU taken from the
    # workers, jobs 8-13 % slower. With 4 MB regions neither, for ~20 MB more driver RSS (16 MB: 90-160).
    # Like the JIT flag, the regions apply where sparkeo launches the driver JVM.
    driver_heap_region_mb: int = field(default=4, metadata={"env": "SPARKEO_DRIVER_HEAP_REGION_MB"})
    # Up to this many bytes of pickled DAG summed over a job's tasks, the DAG rides inside each task;
    # beyond it, it goes out once as a broadcast (0: always a broadcast). A broadcast cost 25-35 ms
    # before the first task could start; inline, every task carries the bytes (27 KB for 12 dates x 3 bands).
    inline_dag_bytes: int = field(default=4 << 20, metadata={"env": "SPARKEO_INLINE_DAG_BYTES"})
    # Python workers talk to the JVM over Unix domain sockets (``spark.python.unix.domain.socket.enabled``):
    # over loopback TCP each task's input waited ~40 ms for a delayed ACK (50 ms from task launch to
    # the Python function of a 1-partition job, 8.5 ms over a Unix socket).
    python_unix_sockets: bool = field(default=True, metadata={"env": "SPARKEO_PYTHON_UNIX_SOCKETS"})
    # On ``local`` masters tasks hand their tiles to the driver as files (jobs.spark.transport) instead of
    # inside the task result: ~0.5 ms per MB from the page cache against ~7 ms per MB through the JVM.
    # No effect on other masters (always inline there).
    spill_tiles: bool = field(default=True, metadata={"env": "SPARKEO_SPILL_TILES"})
    # GDAL's block cache per process, in MB (``GDAL_CACHEMAX``): aligned tiles never read a block twice,
    # warped ones share edge blocks with the task's next tile (36 uint16 assets x 2 blocks: 9 MB of
    # 256 px blocks, 38 MB of 512 px ones). The first bench job on local[2]: 1.39 s with 64 MB, 1.34 s
    # with 32, 1.32 s with 16 (means of 4-7 runs); more only gives the workers memory to fault in.
    gdal_cache_mb: int = field(default=32, metadata={"env": "SPARKEO_GDAL_CACHEMAX"})
    # Threads the driver computes overviews and deflates COG blocks on (jobs.results.cog); 0: one per core,
    # at most 8. 2, 3, 4 or 6 threads all took 0.08 s for the 2048 px benchmark COG on 2 cores; a
    # driver pod limited to fewer cores than its node shows sets its own count here.
    cog_encode_threads: int = field(default=0, metadata={"env": "SPARKEO_COG_THREADS"})
    # Executors encode and stage the COGs (jobs.results.stripwriter), the driver stitches them by
    # reference; off: tiles travel to the driver, which writes the COGs (the path netCDF always takes).
    executor_writes: bool = field(default=True, metadata={"env": "SPARKEO_EXECUTOR_WRITES"})

    # Pixels of tiles one Spark task computes at most (jobs.spark.execute groups a job's tiles into a few
    # tasks, one per core: fewer task hand-overs); None: the engine's own, 8 tiles of 512 px. The local
    # web API (``for_web_api``) takes one 256 px tile's worth: a core frees up after each task, so a
    # synchronous request waits for one task of a running batch job, not for all of its tiles. Set, the
    # driver writes the COGs (executor_writes off): a strip task of executor-written output holds whole
    # block rows of it and cannot be cut below that.
    task_max_pixels: int | None = field(default=None, metadata={"env": "SPARKEO_TASK_MAX_PIXELS"})

    # User-defined functions (run_udf, README "UDFs"): ``inline`` runs them in the Python worker that
    # computes the tile (a job's own code, on a job's own executors); ``isolated`` in a child process
    # per chunk with hard CPU-time and memory limits (the local-mode web API: a stranger's code on
    # this machine); ``off`` refuses run_udf. ``for_web_api`` is the web API's choice.
    udf_mode: str = field(default="inline", metadata={"env": "SPARKEO_UDF"})
    udf_cpu_seconds: int = field(default=600, metadata={"env": "SPARKEO_UDF_CPU_SECONDS"})
    udf_memory_mb: int = field(default=4096, metadata={"env": "SPARKEO_UDF_MEMORY_MB"})
    # Locations a job reads because its user named them (load_stac's url, geometries paths and URLs),
    # with the server's credentials (sparkeo.readpolicy): ``any`` for a user's own CLI job; the web API
    # (``for_web_api``) makes it ``restricted``: public http(s) URLs, hosts listed after ``allow=``
    # (``restricted;allow=127.0.0.1,stac.internal:8080``), and the caller's own job results.
    user_reads: ReadPolicy = field(default_factory=ReadPolicy, metadata={"env": "SPARKEO_USER_READS"})

    def __post_init__(self):
        if self.udf_mode not in UDF_MODES:
            raise ConfigError(_env_name("udf_mode"), self.udf_mode, f"expected one of {', '.join(UDF_MODES)}")
        for name in ("udf_cpu_seconds", "udf_memory_mb"):
            if getattr(self, name) < 1:
                raise ConfigError(_env_name(name), getattr(self, name), "expected 1 or more")
        if self.task_max_pixels is not None and self.task_max_pixels < 1:
            raise ConfigError(_env_name("task_max_pixels"), self.task_max_pixels, "expected 1 or more")
        for name in ("malloc_mmap_threshold", "malloc_trim_threshold", "inline_dag_bytes", "gdal_cache_mb",
                     "cog_encode_threads"):
            if getattr(self, name) < 0:
                raise ConfigError(_env_name(name), getattr(self, name), "expected 0 or more")
        if self.driver_heap_region_mb not in DRIVER_HEAP_REGIONS_MB:
            raise ConfigError(_env_name("driver_heap_region_mb"), self.driver_heap_region_mb,
                              f"expected one of {', '.join(map(str, DRIVER_HEAP_REGIONS_MB))} (MB; 0: the JVM's own)")
        if self.malloc_mmap_threshold > MAX_MMAP_THRESHOLD:
            raise ConfigError(_env_name("malloc_mmap_threshold"), self.malloc_mmap_threshold,
                              f"glibc accepts at most {MAX_MMAP_THRESHOLD} bytes (32 MiB)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Defaults, overridden by the environment, overridden by explicit (flag) values.

        ``None`` overrides are ignored so that unset command-line flags fall through.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            name = f.metadata.get("env")
            if name and env.get(name) not in (None, ""):
                values[f.name] = _coerce(f, env[name], name)
        for key, value in overrides.items():
            if value is not None:
                values[key] = value
        return cls(**values)

    def for_web_api(self, local: bool, allow_udf: bool) -> "Settings":
        """The settings jobs of the web API run with: on local Spark, UDFs only when the operator
        started it allowing them, and then isolated; on Kubernetes in the job's own executor pods. In both,
        users read only public web locations, the hosts the operator allow-listed and their own results."""
        restricted = dataclasses.replace(self, user_reads=ReadPolicy(RESTRICTED, self.user_reads.allow))
        if not local:
            return restricted
        return dataclasses.replace(restricted, udf_mode="isolated" if allow_udf else "off",
                                   task_max_pixels=self.task_max_pixels or WEB_API_TASK_PIXELS)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_env(self, include_secrets: bool = False) -> dict[str, str]:
        """The environment variables that reproduce these settings in another process (executors).

        Secrets (AWS credentials) only with ``include_secrets``: a cluster passes them as Secret refs.
        """
        out = {}
        for f in dataclasses.fields(self):
            name, value = f.metadata.get("env"), getattr(self, f.name)
            if f.metadata.get("secret") and not include_secrets:
                continue
            if name and value is not None:
                out[name] = _text(value)
        return out


UDF_MODES = ("inline", "isolated", "off")
WEB_API_TASK_PIXELS = 256 * 256     # see ``task_max_pixels``


def _env_name(field_name: str) -> str:
    """The environment variable of a ``Settings`` field."""
    return next(f.metadata["env"] for f in dataclasses.fields(Settings) if f.name == field_name)


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _text(value: object) -> str:
    """A setting as its environment variable's text (booleans as ``true``/``false``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _coerce(f: dataclasses.Field, raw: str, env_name: str):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind == "ReadPolicy":
        return ReadPolicy.parse(raw)
    if kind == "bool":
        word = raw.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise ConfigError(env_name, raw, f"expected one of {', '.join(TRUE_WORDS + FALSE_WORDS)}")
        return word in TRUE_WORDS
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError:
        raise ConfigError(env_name, raw, f"expected {kind.split()[0]}") from None
    return raw
