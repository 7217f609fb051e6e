"""``sparkeo serve`` itself, as ``make serve`` runs it (scripts/serve-local.sh): a subprocess in local mode
on a free port, the session's ZooKeeper (a registry root of its own), the small sample catalog and a
users file; it answers, logs a user in, and stops cleanly on SIGTERM."""
from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.fixtures.api import USERS, free_port, write_users
from tests.shared_location import CHECKOUT

START_TIMEOUT = 20.0


def wait_until_answering(url: str, process: subprocess.Popen) -> requests.Response:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sparkeo serve did not answer (exit {process.poll()})") from None
            time.sleep(0.1)


@pytest.mark.parametrize("private", [False, True], ids=["public-collections", "private-collections"])
def test_sparkeo_serve_answers_logs_in_and_stops_cleanly_on_sigterm(zookeeper, sample_small, tmp_path: Path, private):
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SPARKEO_")}, "PYTHONPATH": str(CHECKOUT),
           "SPARKEO_ZOOKEEPER_ROOT": f"/serve-{uuid.uuid4().hex[:8]}", "SPARKEO_API_TOKEN_SECRET": "test-secret"}
    command = [sys.executable, "-m", "sparkeo.cli.main", "serve", "--port", str(port),
               "--users", write_users(tmp_path / "users"), "--catalog", sample_small,
               "--zookeeper", zookeeper.hosts, "--results-root", str(tmp_path / "results"),
               *(["--private-collections"] if private else [])]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        capabilities = wait_until_answering(f"{url}/", process)
        assert capabilities.status_code == 200 and capabilities.json()["api_version"] == "1.2.0"
        basic = base64.b64encode(f"alice:{USERS['alice']}".encode()).decode()
        login = requests.get(f"{url}/credentials/basic", headers={"Authorization": f"Basic {basic}"}, timeout=10)
        assert login.status_code == 200 and login.json()["access_token"]
        bearer = {"Authorization": f"Bearer basic//{login.json()['access_token']}"}
        me = requests.get(f"{url}/me", headers=bearer, timeout=10)
        assert me.json()["user_id"] == "alice"
        anonymous = requests.get(f"{url}/collections", timeout=10)
        if private:         # collection metadata only after logging in
            assert anonymous.status_code == 401 and anonymous.json()["code"] == "AuthenticationRequired"
            assert requests.get(f"{url}/collections/sample-s2", timeout=10).status_code == 401
        else:
            assert [c["id"] for c in anonymous.json()["collections"]] == ["sample-s2"]
        collections = requests.get(f"{url}/collections", headers=bearer, timeout=10).json()["collections"]
        assert [c["id"] for c in collections] == ["sample-s2"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out, err
    assert USERS["alice"] not in out + err
