#!/usr/bin/env python3
"""Benchmark: submitting jobs as SparkApplications against the test Kubernetes API server.

Times:
  submit_api    sparkapps.submit.submit: render + CRD validation + job inputs written + POST (median, p95)
  submit_cli    `sparkeo submit GRAPH` as a new process (Python start, graph check and dry-run plan, submit)
  list_states   SparkAppsApi.list_states over N seeded applications in mixed states (paginated LIST)
  end_to_end    (--e2e) `sparkeo submit` of examples/ndvi_median.json on the sample catalog until the
                operator loop reports COMPLETED (spark-submit --master local[2])
Prints one JSON line per figure.   Usage: python bench/k8s_submit.py [--submits N] [--apps N] [--e2e]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sparkapps import submit as submitting  # noqa: E402
from sparkapps.client import connect  # noqa: E402
from sparkapps.deployment import DeploymentSettings  # noqa: E402
from sparkapps.manifest import JobSpec, render  # noqa: E402
from sparkeo.testing.k8s_api.operator import LocalOperator  # noqa: E402
from sparkeo.testing.k8s_api.server import K8sTestServer  # noqa: E402

CRD = REPO.parent / "shared" / "spec" / "spark-operator" / "sparkoperator.k8s.io_sparkapplications.yaml"
GRAPH = {"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}}}
STATES = ["", "SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "PENDING_RERUN", "SUCCEEDING"]


def emit(name: str, **values) -> None:
    print(json.dumps({"figure": name, **values}), flush=True)


def bench_submit_api(server: K8sTestServer, work: Path, n: int) -> None:
    api = connect(str(server.write_kubeconfig(work / "kubeconfig")))
    times = []
    for i in range(n):
        out = str(work / "api" / f"j-{i:05d}")
        job = JobSpec(job_id=f"j-{i:05d}", user="bench", graph_uri=submitting.graph_location(out), output_uri=out)
        started = time.perf_counter()
        submitting.submit(api, job, DeploymentSettings(), graph=GRAPH)
        times.append(time.perf_counter() - started)
    times.sort()
    emit("submit_api", n=n, median_ms=round(1000 * statistics.median(times), 2),
         p95_ms=round(1000 * times[int(0.95 * (n - 1))], 2), min_ms=round(1000 * times[0], 2))


def submit_cli(kubeconfig: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sparkeo.cli.main", "--user", "bench", "submit", *args], cwd=REPO,
                   # the local operator loop's drivers read this machine's files (a local --catalog)
                   env={**os.environ, "KUBECONFIG": str(kubeconfig), "SPARKEO_HOST_PATHS": "true"},
                   check=True, capture_output=True)
    return time.perf_counter() - started


def bench_submit_cli(server: K8sTestServer, work: Path, n: int) -> None:
    graph = work / "graph.json"
    graph.write_text(json.dumps(GRAPH))
    kubeconfig = server.write_kubeconfig(work / "kubeconfig")
    times = [submit_cli(kubeconfig, str(graph), "--job-id", f"cli-{i}", "--output", str(work / "cli" / str(i)))
             for i in range(n)]
    emit("submit_cli", n=n, median_s=round(statistics.median(times), 3), min_s=round(min(times), 3))


def bench_list_states(server: K8sTestServer, work: Path, n: int) -> None:
    template = render(JobSpec(job_id="j-0", user="u", graph_uri="g", output_uri="o"), DeploymentSettings())
    pairs = []
    for i in range(n):
        m = copy.deepcopy(template)
        m["metadata"]["name"] = m["metadata"]["labels"]["sparkeo/job-id"] = f"seed-{i:06d}"
        state = STATES[i % len(STATES)]
        pairs.append((m, {"applicationState": {"state": state}, "driverInfo": {}} if state else None))
    started = time.perf_counter()
    server.store.seed("sparkeo", pairs)
    seeded = time.perf_counter() - started
    api = connect(str(server.write_kubeconfig(work / "kubeconfig")))
    times = []
    for _ in range(3):
        started = time.perf_counter()
        states = api.list_states("sparkeo", "sparkeo/job-id")
        times.append(time.perf_counter() - started)
    emit("list_states", apps=len(states), seed_s=round(seeded, 2), median_s=round(statistics.median(times), 3))


def bench_end_to_end(server: K8sTestServer, work: Path) -> None:
    from layercatalog.sample import write_sample

    server.store.secrets[("sparkeo", "sparkeo-s3")] = {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    catalog = write_sample(str(work / "sample"))
    operator = LocalOperator(server.store, REPO, work / "operator").start()
    try:
        started = time.perf_counter()
        submit_s = submit_cli(server.write_kubeconfig(work / "kubeconfig"), str(REPO / "examples" / "ndvi_median.json"),
                              "--catalog", catalog, "--output", str(work / "e2e"), "--job-id", "e2e-demo")
        app = operator.wait_for("sparkeo", "e2e-demo", timeout=1800)
        total = time.perf_counter() - started
        run = operator.runs[-1]
        emit("end_to_end", state=app["status"]["applicationState"]["state"], submit_s=round(submit_s, 2),
             driver_s=round(run["seconds"], 1), total_s=round(total, 1),
             results=sorted(p.name for p in (work / "e2e").iterdir()) if (work / "e2e").exists() else [])
    finally:
        operator.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--submits", type=int, default=50)
    p.add_argument("--cli-submits", type=int, default=3)
    p.add_argument("--apps", type=int, default=10_000)
    p.add_argument("--e2e", action="store_true", help="also run the demo job end to end")
    args = p.parse_args()
    server = K8sTestServer(CRD)
    try:
        with tempfile.TemporaryDirectory(prefix="sparkeo-bench-k8s-") as tmp:
            work = Path(tmp)
            bench_submit_api(server, work, args.submits)
            bench_submit_cli(server, work, args.cli_submits)
            server.store.reset()
            bench_list_states(server, work, args.apps)
            server.store.reset()
            if args.e2e:
                bench_end_to_end(server, work)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
