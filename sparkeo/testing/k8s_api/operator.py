"""The operator loop of the test API server: runs new SparkApplications with ``spark-submit
--master local[2]`` and writes ``status`` the way the spark-on-k8s operator does.

SUBMITTED when picked up, RUNNING once spark-submit started, then COMPLETED (exit 0) or FAILED with
``errorMessage`` = the exit code and the last lines of the driver's output. A failed run is retried
as ``restartPolicy`` says (``OnFailure``: FAILING, after ``onFailureRetryInterval`` s PENDING_RERUN,
SUBMITTED, RUNNING again; ``status.executionAttempts`` counts the runs). ``local:///opt/sparkeo/`` maps to the repository checkout;
pod ``env`` is resolved like the kubelet does (``secretKeyRef`` from the store's Secrets). One
application runs at a time (the machine has 2 cores); the others wait SUBMITTED. Deleting a running
application kills its spark-submit, as deleting the driver pod would. The driver's output (stdout and
stderr, interleaved) is the log of its pod ``<app>-driver`` in ``store.pods``, which the server's
``pods/{name}/log`` path serves while it runs and after, until the application is deleted.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path

from sparkeo.contracts import DRIVER_POD
from sparkeo.testing.services import stop_process
from sparkeo.testing.k8s_api.store import Store, now_iso

log = logging.getLogger(__name__)
IMAGE_ROOT = "local:///opt/sparkeo/"
ERROR_LINES = 20


def spark_submit_path() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-submit")


def _tee(pipe, own, both, lock: threading.Lock) -> None:
    """Copy a driver's output stream line by line to its own file and to the pod log."""
    with pipe:
        for line in iter(pipe.readline, b""):
            with lock:
                own.write(line)
                own.flush()
                both.write(line)
                both.flush()


class LocalOperator:
    """Picks up applications without a state and runs them one after another."""

    def __init__(self, store: Store, repo_root: Path, workdir: Path, poll: float = 0.1,
                 extra_env: dict[str, str] | None = None):
        self.store, self.repo_root, self.workdir, self.poll = store, repo_root, workdir, poll
        # no Prometheus scrapes this machine's drivers: they must not wait for a final scrape
        self.extra_env = {"SPARKEO_METRICS_LINGER": "0", **(extra_env or {})}
        self._queue: deque[tuple[str, str]] = deque()
        self._seen: set[tuple[str, str, str]] = set()  # (ns, name, uid)
        self._reruns: list[tuple[float, str, str]] = []  # (monotonic due time, ns, name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="k8s-test-operator", daemon=True)
        self.runs: list[dict] = []  # one record per finished run: name, command, exit code, seconds

    def start(self) -> "LocalOperator":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._pick_up()
            self._due_reruns()
            if self._queue:
                ns, name = self._queue.popleft()
                try:
                    self._run(ns, name)
                except Exception:  # the loop must survive one broken application
                    log.exception("test operator failed on %s/%s", ns, name)
            else:
                self._stop.wait(self.poll)

    def _pick_up(self) -> None:
        for obj in self.store.list(None).items:
            meta = obj["metadata"]
            key = (meta["namespace"], meta["name"], meta["uid"])
            state = ((obj.get("status") or {}).get("applicationState") or {}).get("state") or ""
            if key in self._seen or state:
                continue
            self._seen.add(key)
            self.store.set_status(key[0], key[1], {
                "applicationState": {"state": "SUBMITTED"},
                "submissionID": str(uuid.uuid4()),
                "lastSubmissionAttemptTime": now_iso(),
                "submissionAttempts": 1,
                "driverInfo": {"podName": DRIVER_POD.format(app=key[1])},
            })
            self._queue.append(key[:2])

    def _due_reruns(self) -> None:
        """FAILING applications whose retry interval passed: PENDING_RERUN, then queued again."""
        now = time.monotonic()
        for entry in [r for r in self._reruns if r[0] <= now]:
            self._reruns.remove(entry)
            _, ns, name = entry
            if self.store.set_status(ns, name, {"applicationState": {"state": "PENDING_RERUN", "errorMessage": None},
                                                "terminationTime": None}) is not None:
                self.store.set_status(ns, name, {"applicationState": {"state": "SUBMITTED"},
                                                 "lastSubmissionAttemptTime": now_iso()})
                self._queue.append((ns, name))

    def command(self, app: dict) -> list[str]:
        """The spark-submit command line for an application (local master, the app's file/args/conf)."""
        spec = app["spec"]
        cmd = [spark_submit_path(), "--master", "local[2]", "--name", app["metadata"]["name"]]
        for key, value in sorted((spec.get("sparkConf") or {}).items()):
            if not key.startswith("spark.kubernetes."):
                cmd += ["--conf", f"{key}={value}"]
        cmd.append(self.local_path(spec["mainApplicationFile"]))
        cmd += list(spec.get("arguments") or [])
        return cmd

    def local_path(self, uri: str) -> str:
        if uri.startswith(IMAGE_ROOT):
            return str(self.repo_root / uri[len(IMAGE_ROOT):])
        return uri[len("local://"):] if uri.startswith("local://") else uri

    def pod_env(self, app: dict) -> dict[str, str]:
        """The driver's environment: literal values and Secret references; a missing Secret raises."""
        ns = app["metadata"]["namespace"]
        env = {}
        for var in (app["spec"].get("driver") or {}).get("env") or []:
            if "value" in var:
                env[var["name"]] = var["value"]
            elif ref := (var.get("valueFrom") or {}).get("secretKeyRef"):
                secret = self.store.secrets.get((ns, ref["name"]))
                if secret is None or ref["key"] not in secret:
                    if ref.get("optional"):     # the kubelet leaves an optional variable unset
                        continue
                    raise LookupError(f'secret "{ref["name"]}" key "{ref["key"]}" not found')
                env[var["name"]] = secret[ref["key"]]
            elif ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") == "metadata.namespace":
                env[var["name"]] = ns       # the downward API, as the kubelet resolves it
        return env

    def _run(self, ns: str, name: str) -> None:
        if not self.store.exists(ns, name):
            return
        app = self.store.get(ns, name)
        attempt = int((app.get("status") or {}).get("executionAttempts") or 0) + 1
        started = time.monotonic()
        try:
            pod_env = self.pod_env(app)
        except LookupError as exc:  # like CreateContainerConfigError: the driver never starts
            self._finish(ns, name, "FAILED", f"driver container failed to start: {exc}")
            return
        env = {**os.environ, **self.extra_env, **pod_env,
               "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
               "PYTHONPATH": os.pathsep.join([str(self.repo_root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        cmd = self.command(app)
        run_dir = self.workdir / f"{name}-{uuid.uuid4().hex[:6]}"
        run_dir.mkdir(parents=True)
        stderr_path = run_dir / "stderr.log"
        pod_log = run_dir / "driver.log"
        with open(run_dir / "stdout.log", "wb") as out, open(stderr_path, "wb") as err, open(pod_log, "wb") as both:
            proc = subprocess.Popen(cmd, cwd=run_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # the container log interleaves both streams, as the kubelet keeps it; the separate files
            # give errorMessage the Python driver's own lines (stdout) apart from the JVM's (stderr)
            lock = threading.Lock()
            copiers = [threading.Thread(target=_tee, args=(pipe, own, both, lock), daemon=True)
                       for pipe, own in ((proc.stdout, out), (proc.stderr, err))]
            for copier in copiers:
                copier.start()
            self.store.pods.start(ns, name, pod_log)
            self.store.set_status(ns, name, {
                "applicationState": {"state": "RUNNING"},
                "sparkApplicationId": f"local-{int(time.time() * 1000)}",
                "driverInfo": {"podName": DRIVER_POD.format(app=name), "webUIPort": 4040},
                "executionAttempts": attempt,
            })
            deleted = False
            while proc.poll() is None:
                if not self.store.exists(ns, name) or self._stop.is_set():
                    deleted = True
                    stop_process(proc, timeout=20)
                    break
                time.sleep(0.2)
            for copier in copiers:
                copier.join(timeout=10)
        self.runs.append({"name": name, "command": cmd, "exit": proc.returncode, "deleted": deleted,
                          "seconds": time.monotonic() - started, "dir": str(run_dir)})
        if deleted:
            return
        if proc.returncode == 0:
            self._finish(ns, name, "COMPLETED", None)
            return
        error = self.error_message(run_dir, proc.returncode)
        policy = app["spec"].get("restartPolicy") or {}
        if policy.get("type") in ("OnFailure", "Always") and attempt <= int(policy.get("onFailureRetries") or 0):
            # like the operator: FAILING, then after onFailureRetryInterval seconds a rerun
            self._finish(ns, name, "FAILING", error)
            delay = float(policy.get("onFailureRetryInterval") or 1)
            self._reruns.append((time.monotonic() + delay, ns, name))
            return
        self._finish(ns, name, "FAILED", error)

    @staticmethod
    def error_message(run_dir: Path, code: int) -> str:
        """The exit code and the driver log's last lines: spark-submit's PythonRunner sends the Python
        driver's stdout and stderr to its stdout; stderr holds the JVM's log."""
        tail = (run_dir / "stdout.log").read_text(errors="replace").splitlines()[-ERROR_LINES:]
        if not tail:
            tail = (run_dir / "stderr.log").read_text(errors="replace").splitlines()[-ERROR_LINES:]
        return "\n".join([f"driver container failed with exit code {code}", *tail])

    def _finish(self, ns: str, name: str, state: str, error: str | None) -> None:
        app_state = {"state": state}
        if error:
            app_state["errorMessage"] = error
        self.store.set_status(ns, name, {"applicationState": app_state, "terminationTime": now_iso()})

    def wait_for(self, ns: str, name: str, states=("COMPLETED", "FAILED"), timeout: float = 300) -> dict:
        """Block until the application reaches one of ``states``; returns the object."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            app = self.store.get(ns, name)
            if ((app.get("status") or {}).get("applicationState") or {}).get("state") in states:
                return app
            time.sleep(0.1)
        raise TimeoutError(f"{ns}/{name} did not reach {states} within {timeout}s")
