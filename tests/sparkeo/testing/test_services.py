"""sparkeo/testing/services.py: free ports, starting a service until it answers, stopping it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from sparkeo.testing.services import (ServiceStartError, free_port, port_answers, running_service, start_service,
                                     stop_process, url_answers)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_a_free_port_answers_once_something_listens_on_it():
    port = free_port()
    assert not port_answers(port)
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert port_answers(port)


def test_a_service_that_exits_while_starting_is_reported_with_its_code_and_log(tmp_path):
    with pytest.raises(ServiceStartError) as err:
        start_service(python("print('no config here'); raise SystemExit(3)"), tmp_path / "svc.log", "svc",
                      lambda: False)
    assert "svc exited with code 3 while starting" in str(err.value)
    assert "no config here" in str(err.value)


def test_a_service_that_never_answers_is_stopped_after_the_timeout(tmp_path):
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    with pytest.raises(ServiceStartError, match=r"slow did not answer within 2 s"):
        start_service(python(code), tmp_path / "slow.log", "slow", lambda: False, timeout=2)
    # the process ran (it wrote its pid) and is gone now, not left running
    assert not alive(int(pid_file.read_text()))


def test_running_service_answers_inside_the_block_and_is_stopped_after_it(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with running_service(cmd, tmp_path / "http.log", "http.server", lambda: url_answers(url), cwd=tmp_path) as proc:
        assert url_answers(url)
    assert proc.poll() is not None
    assert not url_answers(url)


def test_stop_process_kills_what_ignores_terminate():
    code = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)")
    proc = subprocess.Popen(python(code), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    stop_process(proc, timeout=0.5)
    assert proc.returncode == -signal.SIGKILL
    proc.stdout.close()
