"""Fixtures of the use-case tests: a graph prepared as a job, for any job id and user."""
from __future__ import annotations

import json

import pytest

from sparkeo.identity import Caller
from sparkeo.ops.prepare import GraphSource, prepare_job
from sparkeo.settings import Settings

ADD = {"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}}}


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    """``prepared(job_id, user)``: the ADD graph prepared to write below ``tmp_path/results``."""
    monkeypatch.delenv("SPARKEO_CATALOG", raising=False)
    settings = Settings.from_env()

    def prepared(job_id: str, user: str = "alice"):
        return prepare_job(GraphSource.of(json.dumps(ADD), "graph.json"), Caller.from_values(user, None), settings,
                           job_id=job_id, output=str(tmp_path / "results" / job_id))
    return prepared
