"""``make cluster-demo`` (``sparkeo.testing.demo``): the whole lifecycle of a job through the cluster
commands, on ZooKeeper, the test Kubernetes API and its operator loop."""
from __future__ import annotations

import io

import pytest

from sparkeo.testing import demo


@pytest.mark.slow
def test_the_cluster_demo_runs_the_sample_job_through_every_command(tmp_path, monkeypatch):
    for var in ("SPARKEO_CATALOG", "SPARKEO_DEPLOYMENT", "SPARKEO_PUSHGATEWAY", "KUBECONFIG"):
        monkeypatch.delenv(var, raising=False)
    out = io.StringIO()
    code = demo.run(tmp_path / "demo", timeout=600, out=out)
    text = out.getvalue()
    assert code == 0, text
    for command in ("submit", "list", "jobs list", "track    # pass 1", f"status {demo.JOB_ID}",
                    f"jobs show {demo.JOB_ID}"):
        assert f"\n$ sparkeo {command}" in text, command
    assert "status:            finished" in text and "usage:" in text
    assert "running->finished 1" in text
    assert "cluster-demo-canceled: already canceled" in text
    assert "cluster-demo-canceled: canceled (registry; the application is gone)" in text
    assert (tmp_path / "demo" / "results" / demo.JOB_ID / "collection.json").is_file()
