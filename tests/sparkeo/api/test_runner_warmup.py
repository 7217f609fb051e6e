"""sparkeo.api.runner.LocalRunner.warm: local mode starts the SparkSession and runs the warm-up job in
the background, ahead of any batch job; a failed warm-up leaves a working runner."""
from __future__ import annotations

import logging
import time

from jobs.warmup import WarmUp
from sparkeo.api.runner import LocalRunner
from sparkeo.settings import Settings


def settled(runner: LocalRunner, seconds: float = 120) -> object:
    deadline = time.monotonic() + seconds
    while runner.warmed is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return runner.warmed


def test_warm_starts_the_session_once_and_runs_the_warm_up_job(spark, tmp_path):
    started = []
    runner = LocalRunner(None, Settings(cache_dir=str(tmp_path)), lambda: started.append(1) or spark)
    assert started == [] and runner.warmed is None      # nothing before warm(): the session starts lazily
    runner.warm()
    warmed = settled(runner)
    assert isinstance(warmed, WarmUp) and warmed.tiles == 4
    assert started == [1] and runner.spark() is spark   # started by the warm-up, then reused


def test_a_failed_warm_up_is_logged_and_the_runner_works_on(tmp_path, caplog):
    def no_java():
        raise RuntimeError("Java gateway process exited before sending its port number")

    runner = LocalRunner(None, Settings(cache_dir=str(tmp_path)), no_java)
    with caplog.at_level(logging.WARNING, logger="sparkeo.api.runner"):
        runner.warm()
        warmed = settled(runner)
    assert isinstance(warmed, RuntimeError)
    assert any("warm-up failed" in r.getMessage() and "Java gateway" in r.getMessage() for r in caplog.records)
    assert runner._thread.is_alive()    # the thread that runs the batch jobs outlived it
