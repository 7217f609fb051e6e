"""``make cluster-demo``: the cluster commands' whole lifecycle on one machine, no cluster needed.

Starts ZooKeeper (the job registry), the test Kubernetes API (``sparkeo.testing.k8s_api``, which
validates against the operator's CRD schema) and its local operator loop (runs each
SparkApplication's driver with ``spark-submit --master local[2]``), then, as a newcomer would type
them: ``sparkeo sample-data``, ``sparkeo submit`` the sample job, ``sparkeo track`` until the registry says it ended, and
``sparkeo list``, ``status``, ``jobs list``, ``jobs show`` and ``cancel`` (twice: it is idempotent).
Every command runs as its own process, with the environment printed once at the start.

    python -m sparkeo.testing.demo [--workdir DIR] [--timeout SECONDS]
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sparkeo.contracts import FINAL_STATES
from sparkeo.testing.k8s_api.operator import LocalOperator
from sparkeo.testing.k8s_api.server import K8sTestServer
from sparkeo.testing.zookeeper import ZooKeeperServer

REPO = Path(__file__).resolve().parents[2]
# the operator 2.x schema sparkeo ships (sparkapps.validate.SHIPPED_CRD; sparkeo.testing imports no domain package)
SHIPPED_SCHEMA = REPO / "sparkapps" / "crd" / "sparkapplications-v1beta2-2.5.2.json"
NAMESPACE = "sparkeo"
JOB_ID = "cluster-demo"
USER = "demo"


def crd_file(workdir: Path) -> Path:
    """The CRD the test API validates against, made from the schema sparkeo ships (operator 2.x)."""
    schema = json.loads(SHIPPED_SCHEMA.read_text())
    path = workdir / "sparkapplications-crd.json"
    path.write_text(json.dumps({"spec": {"versions": [{"name": "v1beta2", "schema": {"openAPIV3Schema": schema}}]}}))
    return path


class Demo:
    """The services and the environment the demo's commands run in."""

    def __init__(self, workdir: Path, out=sys.stdout):
        self.workdir, self.out = workdir, out
        self.zookeeper = ZooKeeperServer(workdir=str(workdir / "zookeeper"))
        self.api: K8sTestServer | None = None
        self.operator: LocalOperator | None = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> "Demo":
        self.zookeeper.start()
        self.api = K8sTestServer(crd_file(self.workdir))
        # the S3 Secret the pods' environment refers to (the sample job reads and writes local files)
        self.api.store.secrets[(NAMESPACE, "sparkeo-s3")] = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}
        kubeconfig = self.api.write_kubeconfig(self.workdir / "kubeconfig", NAMESPACE)
        self.operator = LocalOperator(self.api.store, REPO, self.workdir / "operator").start()
        self.env = {"KUBECONFIG": str(kubeconfig), "SPARKEO_ZOOKEEPER": self.zookeeper.hosts,
                    "SPARKEO_NAMESPACE": NAMESPACE, "SPARKEO_USER": USER,
                    # the operator loop runs drivers on this machine: they read its files
                    "SPARKEO_HOST_PATHS": "true"}
        self.say("# services: ZooKeeper " + self.zookeeper.hosts + ", test Kubernetes API " + self.api.url
                 + " with its operator loop (spark-submit --master local[2])")
        for key, value in self.env.items():
            self.say(f"export {key}={shlex.quote(value)}")
        return self

    def __exit__(self, *exc) -> None:
        if self.operator is not None:
            self.operator.stop()
        if self.api is not None:
            self.api.stop()
        self.zookeeper.cleanup()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def sparkeo(self, *args: str, show: bool = True) -> subprocess.CompletedProcess:
        """Run ``sparkeo ARGS`` as its own process, printed like a terminal session."""
        if show:
            self.say("\n$ sparkeo " + " ".join(shlex.quote(a) for a in args))
        proc = subprocess.run([sys.executable, "-m", "sparkeo.cli.main", *args], cwd=REPO, text=True,
                              capture_output=True, env={**os.environ, **self.env}, timeout=300)
        if show:
            for text in (proc.stdout, proc.stderr):
                if text.strip():
                    self.say(text.rstrip())
        return proc

    def status_of(self, job_id: str) -> str | None:
        proc = self.sparkeo("jobs", "show", job_id, "--json", show=False)
        return json.loads(proc.stdout)["status"] if proc.returncode == 0 else None

    def track_until_ended(self, job_id: str, timeout: float) -> str | None:
        """``sparkeo track`` every few seconds until the registry has the job in a final state."""
        deadline, status, passes = time.monotonic() + timeout, None, 0
        while time.monotonic() < deadline:
            passes += 1
            proc = self.sparkeo("track", show=False)
            if passes == 1 or "transitions: none" not in proc.stdout:    # the passes that moved a job
                self.say(f"\n$ sparkeo track    # pass {passes}\n{(proc.stdout + proc.stderr).rstrip()}")
            status = self.status_of(job_id)
            if status in {s.value for s in FINAL_STATES}:
                return status
            time.sleep(3)
        return status


def run(workdir: Path, timeout: float = 600, out=sys.stdout) -> int:
    """The whole demo; 0 when the sample job finished and every command answered as expected."""
    workdir.mkdir(parents=True, exist_ok=True)
    with Demo(workdir, out) as demo:
        sample = demo.sparkeo("sample-data", str(workdir / "sample"), "--size", "512", "--dates", "3")
        if sample.returncode != 0:
            return sample.returncode
        catalog = str(workdir / "sample" / "layercatalog.json")
        graph = str(REPO / "examples" / "ndvi_median.json")
        results = str(workdir / "results" / JOB_ID)
        submitted = demo.sparkeo("submit", graph, "--catalog", catalog, "--output", results, "--job-id", JOB_ID)
        if submitted.returncode != 0:
            return submitted.returncode
        demo.sparkeo("list")
        demo.sparkeo("jobs", "list")
        status = demo.track_until_ended(JOB_ID, timeout)
        demo.sparkeo("status", JOB_ID)
        demo.sparkeo("jobs", "show", JOB_ID)
        # a second job, canceled before it ran, twice: cancel is idempotent and status agrees with it
        second = "cluster-demo-canceled"
        demo.operator.stop()            # no free slot: the job stays queued until it is canceled
        demo.sparkeo("submit", graph, "--catalog", catalog, "--output", str(workdir / "results" / second),
                     "--job-id", second)
        first, again = demo.sparkeo("cancel", second), demo.sparkeo("cancel", second)
        demo.sparkeo("status", second)
        demo.sparkeo("jobs", "list")
        ok = status == "finished" and first.returncode == again.returncode == 0
        demo.say(f"\n# {JOB_ID}: {status}; results in {results}" if ok else f"\n# demo failed: {JOB_ID} is {status}")
        return 0 if ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkeo.testing.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=None, help="Where services, sample and results go [a temporary folder].")
    parser.add_argument("--timeout", type=float, default=600, help="Seconds to wait for the sample job.")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="sparkeo-cluster-demo-"))
    return run(workdir, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
