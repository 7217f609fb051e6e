"""Benchmark: one tracker pass over 10,000 ongoing jobs.

Starts a real ZooKeeper (the Debian package's server) and the test Kubernetes API server with
10,000 SparkApplications in mixed states, registers 10,000 ongoing jobs across 100 users, then times
``JobTracker.run_pass`` end to end (lock, parallel reads, one paginated LIST, decisions, metadata of
the jobs that ended, pipelined writes and transactions). Prints one JSON line:

    {"jobs": 10000, "seconds_per_pass": ..., "zk_bytes_per_job": ..., ...}

Goal: under 10 s per pass on the 2-core test machine.
    .venv/bin/python bench/tracker_pass.py [--jobs 10000]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sparkapps.client import connect  # noqa: E402
from sparkapps.deployment import DeploymentSettings  # noqa: E402
from sparkapps.manifest import JobSpec, render  # noqa: E402
from sparkeo.testing.zookeeper import ZooKeeperServer  # noqa: E402
from sparkeo.testing.k8s_api.server import K8sTestServer  # noqa: E402
from tracker.record import JobRecord  # noqa: E402
from tracker.registry import JobRegistry  # noqa: E402
from tracker.states import JobState  # noqa: E402
from tracker.track import JobTracker, TrackerConfig  # noqa: E402

CRD = REPO.parent / "shared" / "spec" / "spark-operator" / "sparkoperator.k8s.io_sparkapplications.yaml"
# application state mix (weights out of 20)
MIX = ["RUNNING"] * 6 + ["SUBMITTED"] * 4 + ["SUCCEEDING"] * 2 + ["COMPLETED"] * 3 + ["FAILED"] * 2 + \
      ["", "PENDING_RERUN", "FAILING"]


# The test API server runs in a process of its own, as a real API server is remote: its CPU work
# (serialising 10,000 applications) must not be charged to the tracker's process.
SERVER = """
import sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from sparkeo.testing.k8s_api.server import K8sTestServer
server = K8sTestServer(Path({crd!r}))
server.write_kubeconfig(Path({kubeconfig!r}), "sparkeo")
print(server.port, flush=True)
while True:
    time.sleep(3600)
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--in-process-api", action="store_true",
                        help="run the test API server in this process (charges its CPU to the pass)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sparkeo-bench-tracker-"))
    zk = ZooKeeperServer(workdir=str(work / "zk")).start()
    kubeconfig = work / "kubeconfig"
    server = proc = None
    try:
        if args.in_process_api:
            server = K8sTestServer(CRD)
            server.write_kubeconfig(kubeconfig, "sparkeo")
            url = server.url
        else:
            code = SERVER.format(repo=str(REPO), crd=str(CRD), kubeconfig=str(kubeconfig))
            proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
            url = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        print(json.dumps(run(args.jobs, args.users, zk, url, kubeconfig, work,
                             "in-process" if server else "separate process")))
    finally:
        if server is not None:
            server.stop()
        if proc is not None:
            proc.terminate()
            proc.wait()
        zk.stop()
        shutil.rmtree(work, ignore_errors=True)


def seed(url: str, namespace: str, apps: list) -> None:
    """Insert applications in given states through the test server's seeding endpoint."""
    for start in range(0, len(apps), 1000):
        body = json.dumps([{"manifest": m, "status": s} for m, s in apps[start:start + 1000]]).encode()
        request = urllib.request.Request(f"{url}/_test/seed/{namespace}", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()


def run(n: int, users: int, zk: ZooKeeperServer, url: str, kubeconfig: Path, work: Path, api_where: str) -> dict:
    namespace = "sparkeo"
    records, apps = [], []
    template = render(JobSpec(job_id="j-template", user="u", graph_uri="/g", output_uri="/o"),
                      DeploymentSettings(namespace=namespace))
    for i in range(n):
        job_id, user, state = f"j-{i:06d}", f"user{i % users:03d}", MIX[i % len(MIX)]
        results = work / "results" / job_id
        if state in ("COMPLETED", "FAILED", "FAILING"):
            results.mkdir(parents=True)
            (results / "job_metadata.json").write_text(json.dumps(
                {"job_id": job_id, "usage": {"input_pixels": i * 1000, "bytes_read": i * 4000, "tiles": 16,
                                             "read_retries": 0, "task_attempts": 0, "cpu_seconds": 12.5,
                                             "wall_seconds": 60.0}}))
        records.append(JobRecord(job_id=job_id, user=user, status=JobState.QUEUED, namespace=namespace,
                                 results=str(results), spec=f"{results}/job_spec.json"))
        manifest = json.loads(json.dumps(template))
        manifest["metadata"]["name"] = job_id
        manifest["metadata"]["labels"]["sparkeo/job-id"] = job_id
        apps.append((manifest, {"applicationState": {"state": state}} if state else {}))
    seed(url, namespace, apps)
    api = connect(str(kubeconfig))

    with JobRegistry.connect(zk.hosts, "/sparkeo") as registry:
        started = time.perf_counter()
        assert registry.create_many(records) == [None] * n
        create_seconds = time.perf_counter() - started

    timings, cpu_times, reports = [], [], []
    for _ in range(2):  # the first pass writes every record; the second is the steady state
        with JobRegistry.connect(zk.hosts, "/sparkeo") as registry:
            config = TrackerConfig(retention_days=None, prefetch_namespaces=frozenset({namespace}))
            tracker = JobTracker(registry, api.list_states, api.delete, config)
            started, cpu = time.perf_counter(), time.process_time()
            report = tracker.run_pass()
            timings.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu)
            reports.append(report)
    list_started, list_cpu = time.perf_counter(), time.process_time()
    listed = len(api.list_states(namespace, "app.kubernetes.io/managed-by=sparkeo"))
    list_seconds, list_cpu = time.perf_counter() - list_started, time.process_time() - list_cpu

    with JobRegistry.connect(zk.hosts, "/sparkeo") as registry:
        ongoing, _ = registry.read_ongoing()
        done, _ = registry.read_done()
        sizes = [len(v.record.to_json()) for v in ongoing + done]
    first = reports[0]
    assert first.jobs == n and first.error_count == 0, first
    assert len(sizes) == n and listed == n
    return {
        "jobs": n,
        "seconds_per_pass": round(timings[0], 3),
        "zk_bytes_per_job": round(sum(sizes) / len(sizes), 1),
        "steady_pass_seconds": round(timings[1], 3),
        "cpu_seconds_per_pass": round(cpu_times[0], 3),  # this process only (the tracker's own work)
        "steady_cpu_seconds": round(cpu_times[1], 3),
        "list_seconds": round(list_seconds, 3),  # the LIST alone (it overlaps the ZooKeeper reads)
        "list_client_cpu_seconds": round(list_cpu, 3),
        "first_pass_writes": first.writes,
        "transitions": first.transitions,
        "states_after": first.states,
        "create_seconds": round(create_seconds, 3),
        "max_zk_bytes_per_job": max(sizes),
        "status_source": f"test Kubernetes API (sparkeo.testing.k8s_api, {api_where}) via sparkapps list_states",
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


if __name__ == "__main__":
    main()
