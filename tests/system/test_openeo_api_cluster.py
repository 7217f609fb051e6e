"""``sparkeo serve --mode cluster`` driven by the official ``openeo`` client: a started job becomes a
SparkApplication on the test Kubernetes API (validated against the operator's CRD) through the same
``submit``/``cancel`` use cases as the CLI; the record lives in ZooKeeper.

The first test runs no Spark (no operator loop). The end-to-end test runs the operator loop
(spark-submit ``--master local[2]``, one driver JVM per job: two jobs) and the tracker the way the
CronJob does (``sparkeo track`` passes, in-process, in a background loop), with results on the moto
S3 server: the status the client polls moves as the operator and the tracker move it.
"""
from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, parse_qsl, urlencode, urlparse

import numpy as np
import openeo
import pytest
from kubernetes.client import ApiException
from openeo.rest import OpenEoApiError

from sparkeo.contracts import LABEL_JOB_ID, LABEL_USER
from sparkeo.testing.s3 import ACCESS_KEY, SECRET_KEY
from tests.fixtures.api import USERS, free_port, start_server, wait_final, with_private_copy, write_users
from tests.system.test_openeo_api import ndvi_max, numpy_ndvi_max, read

PRESIGN_EXPIRY = 900


class TrackerCronJob:
    """``sparkeo track`` (the CronJob's command) every ``interval`` s in a thread, in this process (a
    subprocess per pass would cost a Python start each); its failures are collected in ``errors``."""

    def __init__(self, hosts: str, root: str, namespace: str, interval: float = 0.5):
        from sparkeo.settings import Settings

        self.args = ["--zookeeper", hosts, "--namespace", namespace]
        self.settings = Settings(zookeeper=hosts, zookeeper_root=root, namespace=namespace)
        self.interval, self.passes, self.errors = interval, 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tracker-cronjob", daemon=True)

    def _loop(self) -> None:
        from sparkeo.cli.track import track

        while not self._stop.wait(self.interval):
            try:
                # the group's context object, as ``sparkeo`` builds it (without its logging set-up)
                track.main(self.args, obj={"settings": self.settings}, standalone_mode=False)
                self.passes += 1
            except Exception as exc:   # reported by the test, the loop goes on like the CronJob's schedule
                self.errors.append(str(exc) or repr(exc))

    def __enter__(self) -> "TrackerCronJob":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)


def s3_accepts(url: str, now: datetime) -> bool:
    """What S3 checks on a presigned GET (SigV4 query authentication): the signature, recomputed with
    the server's secret over the URL's path and parameters as presented (botocore's SigV4 steps at the
    link's ``X-Amz-Date``), and that ``X-Amz-Date`` + ``X-Amz-Expires`` has not passed. Done here because
    moto cannot: moto 5.2.5 serves expired and tampered presigned URLs, and with its IAM auth on
    (``INITIAL_NO_AUTH_ACTION_COUNT``) it answers every presigned URL with a 500 (its auth reads only
    the ``Authorization`` header)."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    link = urlparse(url)
    query = dict(parse_qsl(link.query))
    unsigned = urlencode([(k, v) for k, v in parse_qsl(link.query) if k != "X-Amz-Signature"])
    region = query["X-Amz-Credential"].split("/")[2]
    auth = S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", region, expires=int(query["X-Amz-Expires"]))
    request = AWSRequest("GET", f"{link.scheme}://{link.netloc}{link.path}?{unsigned}")
    request.context["timestamp"] = query["X-Amz-Date"]
    signature = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return signature == query["X-Amz-Signature"] and now <= signed_at + timedelta(seconds=int(query["X-Amz-Expires"]))


def core_api(k8s):
    """A ``kubernetes`` CoreV1Api through the test kubeconfig (pods and their logs)."""
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(str(k8s.kubeconfig)))


def serve_cluster(tmp_path, zookeeper, k8s_api, catalog: str, **config_changes):
    """``sparkeo serve --mode cluster`` on a free port: ``(url, registry, root, stop)``."""
    from sparkeo.api.app import create_app
    from sparkeo.api.config import CLUSTER, ServerConfig
    from sparkeo.api.server import build_backend
    from sparkeo.settings import Settings
    from tracker.registry import JobRegistry

    settings = Settings(cache_dir=str(tmp_path / "cache"))
    config = ServerConfig(catalog=with_private_copy(catalog, tmp_path / "layercatalog.json"), mode=CLUSTER,
                          namespace=k8s_api.namespace, **config_changes)
    root = f"/api-{uuid.uuid4().hex[:8]}"
    registry = JobRegistry.connect(zookeeper.hosts, root)
    backend = build_backend(config, settings, registry, write_users(tmp_path / "users"),
                            spark_factory=lambda: pytest.fail("cluster mode started a local Spark for a batch job"),
                            sparkapps_api=k8s_api.client())
    server, thread = start_server(create_app(backend), port := free_port())

    def stop():
        server.should_exit = True
        thread.join(10)
        registry.close()

    return f"http://127.0.0.1:{port}", registry, root, stop


@pytest.fixture
def cluster_api(tmp_path, monkeypatch, zookeeper, k8s_api, sample_small):
    monkeypatch.setenv("SPARKEO_RESULTS_ROOT", str(tmp_path / "results"))
    url, registry, _, stop = serve_cluster(tmp_path, zookeeper, k8s_api, sample_small)
    yield url, registry, k8s_api
    stop()


@pytest.fixture
def cluster_run(tmp_path, monkeypatch, zookeeper, k8s_api, k8s_operator, s3, sample_small):
    """The API in cluster mode with the operator loop and the tracker running, results on S3, presigned
    download links; failed drivers are not retried (``restartPolicy: Never``)."""
    monkeypatch.setenv("SPARKEO_RESULTS_ROOT", s3.uri("jobs"))
    # ``kubectl create secret generic sparkeo-s3``: the driver pods' S3 credentials
    k8s_api.store.secrets[(k8s_api.namespace, "sparkeo-s3")] = {"AWS_ACCESS_KEY_ID": ACCESS_KEY,
                                                                 "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text("restart_policy: {type: Never}\n")
    url, registry, root, stop = serve_cluster(tmp_path, zookeeper, k8s_api, sample_small,
                                              deployment_config=str(deployment), presigned_results=True,
                                              presign_expiry=PRESIGN_EXPIRY)
    with TrackerCronJob(zookeeper.hosts, root, k8s_api.namespace) as tracker:
        yield url, registry, k8s_api, tracker, s3
    stop()


def test_a_started_job_is_a_sparkapplication_and_cancel_deletes_it(cluster_api):
    url, registry, k8s = cluster_api
    alice = openeo.connect(url).authenticate_basic("alice", USERS["alice"])
    bob = openeo.connect(url).authenticate_basic("bob", USERS["bob"])
    cube = alice.load_collection("sample-s2", temporal_extent=["2023-03-01", "2023-05-01"], bands=["B04", "B08"])
    job = cube.ndvi().max_time().create_job(title="on the cluster")
    assert not k8s.store.exists(k8s.namespace, job.job_id)
    job.start()
    app = k8s.store.get(k8s.namespace, job.job_id)
    assert app["metadata"]["labels"][LABEL_JOB_ID] == job.job_id and app["metadata"]["labels"][LABEL_USER] == "alice"
    record = registry.get(job.job_id, "alice")
    assert record.status.value == "queued" and record.application == job.job_id
    assert job.status() == "queued"
    with pytest.raises(OpenEoApiError) as err:
        bob.job(job.job_id).stop()
    assert err.value.http_status_code == 404
    assert k8s.store.exists(k8s.namespace, job.job_id)
    job.stop()
    assert not k8s.store.exists(k8s.namespace, job.job_id)
    assert job.status() == "canceled"


def test_cluster_jobs_run_to_results_and_their_driver_logs(cluster_run, sample_small, tmp_path):
    url, registry, k8s, tracker, s3 = cluster_run
    alice = openeo.connect(url).authenticate_basic("alice", USERS["alice"])
    bob = openeo.connect(url).authenticate_basic("bob", USERS["bob"])
    job = ndvi_max(alice).create_job(title="on the cluster")
    # valid, but no scene in 2019: the driver fails in planning (exit 2), after the first job
    failing = alice.load_collection("sample-s2", temporal_extent=["2019-01-01", "2019-02-01"],
                                    bands=["B04"]).create_job(title="nothing there")
    polled: list[str] = []

    def progress(message: str) -> None:     # start_and_wait's status lines: "... Job 'j-...': running (...)"
        if found := re.search(r"Job '[^']+': (created|queued|running|finished|error|canceled)\b", message):
            polled.append(found[1])

    job.start()
    failing.start()
    job.start_and_wait(print=progress, max_poll_interval=1)
    statuses = list(dict.fromkeys(polled))      # distinct, in order
    assert statuses[-1] == "finished" and "running" in statuses, polled
    assert set(statuses) <= {"queued", "running", "finished"} and statuses.index("running") < statuses.index("finished")
    record = registry.get(job.job_id, "alice")
    assert record.status.value == "finished" and record.app_state == "COMPLETED" and record.usage["input_pixels"] > 0

    # results on S3: the document links presigned S3 URLs; the client downloads straight from S3
    results = job.get_results()
    metadata = results.get_metadata()
    (asset,) = [a for a in metadata["assets"].values() if a["type"].startswith("image/tiff")]
    link = urlparse(asset["href"])
    assert f"{link.scheme}://{link.netloc}" == s3.server.endpoint and link.path.startswith(f"/{s3.name}/jobs/{job.job_id}/")
    query = parse_qs(link.query)
    assert query["X-Amz-Expires"] == [str(PRESIGN_EXPIRY)] and query["X-Amz-Credential"][0].startswith(ACCESS_KEY)
    assert query["X-Amz-Signature"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    now = datetime.now(timezone.utc)
    assert s3_accepts(asset["href"], now)
    assert not s3_accepts(asset["href"], now + timedelta(seconds=PRESIGN_EXPIRY + 60))      # expired
    assert not s3_accepts(asset["href"].replace(f"X-Amz-Expires={PRESIGN_EXPIRY}", "X-Amz-Expires=604800"), now)
    assert not s3_accepts(asset["href"].replace(f"/{job.job_id}/", "/j-someone-else/"), now)   # another object
    files = results.download_files(tmp_path / "dl")
    (tif,) = [f for f in files if f.suffix in (".tif", ".tiff")]
    stored = s3.server.client().get_object(Bucket=s3.name, Key=link.path.split("/", 2)[2])["Body"].read()
    assert tif.read_bytes() == stored and len(stored) == asset["file:size"]
    np.testing.assert_allclose(read(tif), numpy_ndvi_max(sample_small), rtol=1e-5, equal_nan=True)
    # the owner alone gets the document
    with pytest.raises(OpenEoApiError) as err:
        bob.get(f"/jobs/{job.job_id}/results", expected_status=200)
    assert err.value.http_status_code == 404 and err.value.code == "JobNotFound"

    # the logs are the driver pod's: Spark's INFO lines and the driver's own; level and offset filter them
    logs = job.logs()
    assert any(e["level"] == "info" and "SparkContext" in e["message"] for e in logs)
    assert all(e["level"] in ("error", "warning") for e in job.logs(level="warning"))
    middle = logs[len(logs) // 2]
    after = alice.get(f"/jobs/{job.job_id}/logs", params={"offset": middle["id"]}).json()["logs"]
    assert after == logs[logs.index(middle) + 1:]

    # the failing job (started with the other, and maybe ended by now): error, with the cause in its
    # driver's log and in the record's error
    assert wait_final(failing) == "error"
    errors = failing.logs(level="error")
    assert errors and all(e["level"] == "error" for e in errors)
    # the driver's own line (from its pod's log) and the record's error (the operator's errorMessage)
    assert any(e["message"].startswith("Error:") and "sample-s2" in e["message"] and "2019-01-01" in e["message"]
               for e in errors)
    assert errors[-1]["message"].startswith("driver container failed with exit code 2")
    driver_lines = failing.logs()
    # the driver pod goes with its application: the logs fall back to the record's error
    k8s.store.delete(k8s.namespace, failing.job_id)
    with pytest.raises(ApiException) as gone:
        core_api(k8s).read_namespaced_pod_log(f"{failing.job_id}-driver", k8s.namespace)
    assert gone.value.status == 404 and json.loads(gone.value.body)["reason"] == "NotFound"
    (only,) = failing.logs()
    assert only["level"] == "error" and "2019-01-01" in only["message"] and len(driver_lines) > 1
    assert tracker.passes > 0 and tracker.errors == []
