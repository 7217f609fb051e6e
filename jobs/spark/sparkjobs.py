"""The Spark plumbing every pass of a job shares (tiles, aggregate_spatial, trim_cube's scan): what
its tasks share shipped inline or as a broadcast, its partitions run as Spark jobs with one Python
function, its failed task attempts counted, and a failed task's Python exception line for the user.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence


def partition_runner(sc, rdd) -> Callable[[Sequence[int]], list]:
    """``parts -> the elements of those partitions of rdd``, each call one Spark job, like
    ``sc.runJob(rdd, list, parts)`` but with the Python function handed to the JVM once for all the
    jobs of an execution. ``sc.runJob`` wraps it anew per call: the closure pickled again and a
    PythonFunction built over py4j with one round trip per executor environment variable (measured
    6-8 ms of driver CPU per job against 1.5-2 ms reused, on a driver that shares the cores with the
    workers). Uses what ``sc.runJob`` itself uses (PySpark's ``_jrdd`` and ``_load_from_socket``)."""
    from pyspark.core.rdd import _load_from_socket

    jrdd = python_jrdd(sc, rdd)     # built here, once, before the threads submit jobs with it

    def run(parts: Sequence[int]) -> list:
        sock_info = sc._jvm.PythonRDD.runJob(sc._jsc.sc(), jrdd, list(parts))
        with _load_from_socket(sock_info, rdd._jrdd_deserializer) as stream:
            return list(stream)
    return run


def python_jrdd(sc, rdd):
    """``rdd._jrdd`` of a Python-mapped RDD, built as PySpark's ``PipelinedRDD`` does, but handing
    the executor environment to the JVM once per SparkContext: PySpark converts it to a Java map
    anew for every RDD, a py4j round trip per variable (25 of them: 6.5-10 ms of each job's
    8.5-16 ms spent wrapping its function). The map is a ``ConcurrentHashMap``: Spark's Python
    runner puts a few task variables into it (it does so into PySpark's per-RDD map too, from
    every task of a job at once). Profiled RDDs and anything else fall back to PySpark's own."""
    from pyspark.core.rdd import PipelinedRDD, _prepare_for_python_RDD

    profiling = sc._conf.get("spark.python.profile", "false") == "true"
    if not isinstance(rdd, PipelinedRDD) or rdd._jrdd_val or rdd._bypass_serializer or profiling:
        return rdd._jrdd
    command = (rdd.func, None, rdd._prev_jrdd_deserializer, rdd._jrdd_deserializer)
    pickled, broadcasts, env, includes = _prepare_for_python_RDD(sc, command)
    function = sc._jvm.SimplePythonFunction(bytearray(pickled), _java_env(sc, env), includes, sc.pythonExec,
                                            sc.pythonVer, broadcasts, sc._javaAccumulator)
    rdd._jrdd_val = sc._jvm.PythonRDD(rdd._prev_jrdd.rdd(), function, rdd.preservesPartitioning,
                                      rdd.is_barrier).asJavaRDD()
    return rdd._jrdd_val


# the executor environment's Java map: (SparkContext, its variables, the map) of the last one made
_JAVA_ENV: list = []


def _java_env(sc, env: dict):
    items = tuple(sorted(env.items()))
    if not _JAVA_ENV or _JAVA_ENV[0] is not sc or _JAVA_ENV[1] != items:
        java = sc._jvm.java.util.concurrent.ConcurrentHashMap()
        for name, value in items:
            java.put(name, value)
        _JAVA_ENV[:] = [sc, items, java]
    return _JAVA_ENV[2]


@dataclass(frozen=True)
class Inline:
    """The pickled DAG carried inside each task; reads like a broadcast (``value``, ``unpersist``)."""

    value: bytes

    def unpersist(self, blocking: bool = False) -> None:
        """Nothing to release: the bytes went with the tasks."""


def ship(sc, payload: bytes, tasks: int, inline_bytes: int):
    """The pickled DAG as tasks receive it: ``Inline``, or a broadcast when ``tasks`` copies would
    exceed ``inline_bytes`` (``Settings.inline_dag_bytes``: a broadcast costs ~25-35 ms before the
    first task can start, a file, py4j calls and a block in the JVM's block manager)."""
    if len(payload) * max(tasks, 1) <= inline_bytes:
        return Inline(payload)
    return sc.broadcast(payload)


def task_attempts(sc, group: str) -> int:
    """Spark task attempts beyond the first (failed attempts) over the job group's stages."""
    tracker = sc.statusTracker()
    failed = 0
    for job_id in tracker.getJobIdsForGroup(group):
        info = tracker.getJobInfo(job_id)
        for stage_id in (info.stageIds if info else ()):
            stage = tracker.getStageInfo(stage_id)
            if stage is not None:
                failed += stage.numFailedTasks
    return failed


_PY_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Exit)[\w]*): (.+)$", re.M)


def task_failure_reason(exc: BaseException) -> str:
    """The Python exception line out of a Py4J/Spark failure text (the last one is the cause)."""
    text = str(exc)
    matches = [m for m in _PY_ERROR_LINE.finditer(text) if not m.group(1).startswith(("org.", "java.", "py4j."))]
    if matches:
        name, message = matches[-1].groups()
        return f"{name.rsplit('.', 1)[-1]}: {message.strip()}"
    first = text.strip().splitlines()[0] if text.strip() else repr(exc)
    return first[:500]
