"""A Spark standalone cluster on the loopback: one master and separate worker JVMs.

``StandaloneCluster`` starts ``org.apache.spark.deploy.master.Master`` and N
``org.apache.spark.deploy.worker.Worker`` processes with the pinned pyspark's ``bin/spark-class``,
each worker with its own cores, memory and work folder, so that executors are JVMs (and Python
workers) of their own, as on a real cluster: task results cross a socket, the DAG is shipped or
broadcast, and an executor can be killed while the driver lives on. A driver connects with
``master_url`` (``spark://127.0.0.1:PORT``).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from sparkeo.testing.services import LOOPBACK, ServiceStartError, free_port, start_service, stop_process


def processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process of the machine."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        pid, parent, *args = line.split(None, 2)
        rows.append((int(pid), int(parent), args[0] if args else ""))
    return rows


def spark_home() -> Path:
    """The pinned pyspark package's folder (it holds ``bin/spark-class`` and the jars)."""
    import pyspark

    return Path(pyspark.__file__).parent


class StandaloneCluster:
    """A master and ``workers`` worker JVMs of ``cores`` cores and ``memory`` each."""

    def __init__(self, workers: int = 2, cores: int = 1, memory: str = "1g", workdir: str | None = None):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="sparkeo-standalone-"))
        self.port, self.ui_port = free_port(), free_port()
        self.worker_count, self.cores, self.memory = workers, cores, memory
        self.master: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    @property
    def master_url(self) -> str:
        return f"spark://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 90.0) -> "StandaloneCluster":
        """Start the master, then the workers, and wait until all workers are registered ALIVE."""
        env = self._env()
        self.master = start_service(
            [*self._spark_class(), "org.apache.spark.deploy.master.Master", "--host", LOOPBACK,
             "--port", str(self.port), "--webui-port", str(self.ui_port)],
            self.workdir / "master.log", f"Spark master on port {self.port}", lambda: self.state() is not None,
            timeout, env=env)
        for i in range(self.worker_count):
            folder = self.workdir / f"worker-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            self.workers.append(start_service(
                [*self._spark_class(), "org.apache.spark.deploy.worker.Worker", self.master_url,
                 "--host", LOOPBACK, "--cores", str(self.cores), "--memory", self.memory,
                 "--work-dir", str(folder), "--webui-port", str(free_port())],
                self.workdir / f"worker-{i}.log", f"Spark worker {i}", lambda n=i + 1: self.alive_workers() >= n,
                timeout, env=env))
        return self

    def state(self) -> dict | None:
        """The master's JSON status (workers, applications), or None while it does not answer."""
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{self.ui_port}/json/", timeout=2) as reply:
                return json.load(reply)
        except (OSError, ValueError):
            return None

    def alive_workers(self) -> int:
        state = self.state() or {}
        return sum(1 for w in state.get("workers", ()) if w.get("state") == "ALIVE")

    def executor_pids(self) -> list[int]:
        """Process ids of the executor JVMs this cluster's workers run now (their children running
        ``CoarseGrainedExecutorBackend``)."""
        rows = processes()
        parents = {pid: parent for pid, parent, _ in rows}
        workers = {proc.pid for proc in self.workers}

        def under_a_worker(pid: int) -> bool:      # spark-class runs the JVMs below a shell of its own
            while pid > 1:
                pid = parents.get(pid, 0)
                if pid in workers:
                    return True
            return False

        return [pid for pid, _, args in rows if "CoarseGrainedExecutorBackend" in args and under_a_worker(pid)]

    def kill_executor(self) -> int | None:
        """SIGKILL one executor JVM (its worker starts another); returns its pid, None when none runs."""
        pids = self.executor_pids()
        if not pids:
            return None
        os.kill(pids[0], signal.SIGKILL)
        return pids[0]

    def stop(self) -> None:
        """Stop the workers (and their executors), then the master."""
        for proc in self.workers:
            stop_process(proc)
        self.workers = []
        if self.master is not None:
            stop_process(self.master)
        self.master = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _spark_class(self) -> list[str]:
        script = spark_home() / "bin" / "spark-class"
        if not script.exists() or shutil.which("java") is None:
            raise ServiceStartError(f"a Spark standalone cluster needs java and {script}")
        return [str(script)]

    def _env(self) -> dict[str, str]:
        return {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": LOOPBACK,
                "SPARK_NO_DAEMONIZE": "1", "SPARK_LOG_DIR": str(self.workdir), "SPARK_WORKER_DIR": str(self.workdir),
                "PYSPARK_PYTHON": sys.executable,
                # executors are small JVMs: two of them beside the driver on a 2-core test machine
                "SPARK_DAEMON_MEMORY": "256m"}
