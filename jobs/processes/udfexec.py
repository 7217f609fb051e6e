"""Running a Python UDF on one chunk: ``run(call, array, limits) -> DataArray``.

The UDF contract (which function to call, ``apply_datacube``/``apply_timeseries``/``apply_udf_data``,
how ``context`` is passed) is the official ``openeo.udf.run_udf_code``; this module only decides
*where* it runs and turns what goes wrong into one ``UdfError`` a user can act on:

- ``inline`` (the default): in the Spark Python worker itself. ``run_udf_code`` executes the code
  once per process and keeps the module (its ``load_module_from_string`` cache, keyed by the code),
  so a UDF is compiled once per worker, not per tile. ``udf_timeout`` is a ``SIGALRM`` timer: it
  stops Python code (a loop, a sleep) but not one long C call, which ends first.
- ``isolated``: a child forked per chunk with hard ``RLIMIT_CPU`` and ``RLIMIT_AS`` limits (what the
  local-mode web API uses: a UDF there is a stranger's code). The child inherits the imported
  libraries; it runs the UDF's module code itself, so nothing of the UDF runs in the worker. The
  parent waits at most ``udf_timeout`` and kills the child after it. A call with a timeout off the
  main thread (where no ``SIGALRM`` can be delivered) runs this way too.

Tracebacks: the UDF is executed from a string, so its frames carry the file name ``<string>``; only
those are shown (with the UDF's own source line), never sparkeo's or openeo's stack.
"""
from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from jobs.errors import UdfError

_UDF_FILE = "<string>"       # what exec() of a code string names its frames (openeo's load_module_from_string)
WALL_PER_CPU_SECOND = 4     # isolated chunks without udf_timeout: wall seconds allowed per CPU second


@dataclass(frozen=True)
class UdfCall:
    """One ``run_udf`` node: where it sits in the graph, its code and its ``context``."""

    node_id: str
    code: str
    context: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Limits:
    """How a chunk runs: ``mode`` (inline or isolated), wall seconds per chunk, and the isolated
    child's CPU seconds and extra memory (MiB beyond what it inherits)."""

    mode: str = "inline"
    timeout: float | None = None
    cpu_seconds: int = 600
    memory_mb: int = 4096


class _Timeout(BaseException):
    """Raised in the worker by the ``udf_timeout`` alarm; a BaseException so a UDF's bare
    ``except Exception`` cannot swallow it."""


def run(call: UdfCall, array, limits: Limits):
    """The UDF's result on ``array`` (an ``xarray.DataArray``), as a ``DataArray``; raises ``UdfError``."""
    isolated = limits.mode == "isolated" or (
        limits.timeout is not None and threading.current_thread() is not threading.main_thread())
    if isolated:
        return _run_isolated(call, array, limits)
    with _alarm(call, limits.timeout):
        return _invoke(call, array)


def _invoke(call: UdfCall, array):
    """``run_udf_code`` on one cube; the UDF's exceptions become ``UdfError`` with its traceback lines."""
    from openeo.udf import OpenEoUdfException, UdfData, XarrayDataCube
    from openeo.udf.run_code import run_udf_code
    import xarray

    data = UdfData(datacube_list=[XarrayDataCube(array)], user_context=call.context or {})
    try:
        result = run_udf_code(call.code, data)
    except (_Timeout, UdfError):
        raise
    except OpenEoUdfException as e:
        raise UdfError(call.node_id, f"{e}: the UDF defines none of apply_datacube(cube: XarrayDataCube, "
                                     "context: dict) -> XarrayDataCube, apply_timeseries(series: pandas.Series, "
                                     "context: dict) -> pandas.Series, apply_udf_data(data: UdfData)") from None
    except MemoryError:
        raise UdfError(call.node_id, "the UDF ran out of memory") from None
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)) and not _raised_in_udf(e):
            raise
        raise UdfError(call.node_id, describe_failure(call.code, e)) from None
    cubes = result.get_datacube_list() or []
    if len(cubes) != 1:
        raise UdfError(call.node_id, f"the UDF returned {len(cubes)} data cubes, expected one")
    cube = cubes[0]
    out = cube.get_array() if isinstance(cube, XarrayDataCube) else cube
    if not isinstance(out, xarray.DataArray):
        raise UdfError(call.node_id, f"the UDF returned a {type(out).__name__}, expected an XarrayDataCube "
                                     "(or an xarray.DataArray)")
    return out


def _raised_in_udf(e: BaseException) -> bool:
    return any(f.filename == _UDF_FILE for f in traceback.extract_tb(e.__traceback__))


def describe_failure(code: str, e: BaseException) -> str:
    """``the UDF raised ZeroDivisionError: division by zero`` and the UDF's own frames, innermost last."""
    lines = code.splitlines()
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == _UDF_FILE]
    where = []
    for f in frames:
        source = lines[f.lineno - 1].strip() if f.lineno and 0 < f.lineno <= len(lines) else ""
        where.append(f"  UDF line {f.lineno}, in {f.name}: {source}")
    what = "".join(traceback.format_exception_only(type(e), e)).strip()
    return "the UDF raised " + what + ("\n" + "\n".join(where) if where else "")


@contextmanager
def _alarm(call: UdfCall, seconds: float | None) -> Iterator[None]:
    """Raise ``UdfError`` if the block runs longer than ``seconds`` (main thread only)."""
    if not seconds:
        yield
        return

    def expire(signum, frame):
        raise _Timeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Timeout:
        raise UdfError(call.node_id, _timeout_reason(seconds)) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _timeout_reason(seconds: float) -> str:
    return f"the UDF ran longer than udf_timeout={seconds:g} s on one chunk and was stopped"


def _run_isolated(call: UdfCall, array, limits: Limits):
    """The UDF in a forked child under hard CPU and memory limits; its result or error comes back pickled."""
    import openeo.udf.run_code  # noqa: F401  (imported once here, not in every child: ~1 s each)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                        # the child: never returns
        os.close(read_end)
        status = 0
        try:
            _limit(limits)
            try:
                outcome = ("ok", _invoke(call, array))
            except UdfError as e:
                outcome = ("error", e.reason)
            payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        except BaseException:                           # noqa: BLE001 - the parent reports the exit status
            status = 3
        finally:
            os._exit(status)
    os.close(write_end)
    # a UDF that sleeps uses no CPU: without udf_timeout, the wall clock caps it too
    wall = limits.timeout or WALL_PER_CPU_SECOND * limits.cpu_seconds
    try:
        payload = _read_all(read_end, pid, wall)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        reason = _timeout_reason(wall) if limits.timeout else \
            f"the UDF ran longer than {wall:g} s on one chunk ({WALL_PER_CPU_SECOND} x its CPU-time limit) and was stopped"
        raise UdfError(call.node_id, reason) from None
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if not payload:
        raise UdfError(call.node_id, _death_reason(status, limits))
    kind, value = pickle.loads(payload)
    if kind == "error":
        raise UdfError(call.node_id, value)
    return value


def _limit(limits: Limits) -> None:
    """Hard limits in the child: CPU seconds, and the address space it has plus ``memory_mb``."""
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    size = pages * os.sysconf("SC_PAGE_SIZE") + (limits.memory_mb << 20)
    resource.setrlimit(resource.RLIMIT_AS, (size, size))


def _read_all(fd: int, pid: int, timeout: float | None) -> bytes:
    deadline = None if timeout is None else time.monotonic() + timeout
    chunks = []
    while True:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            raise TimeoutError(pid)
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            raise TimeoutError(pid)
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _death_reason(status: int, limits: Limits) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return f"the UDF used more than its CPU-time limit of {limits.cpu_seconds} s and was stopped"
        return f"the UDF's worker process died of signal {signal.Signals(sig).name}"
    return f"the UDF's worker process failed (exit status {os.WEXITSTATUS(status)}), " \
           f"e.g. over its memory limit of {limits.memory_mb} MiB"
