"""``render_manifest`` called directly: the manifest carries the shared contracts."""
from __future__ import annotations

import json

from sparkeo import contracts
from sparkeo.identity import Caller
from sparkeo.ops.prepare import GraphSource, prepare_job
from sparkeo.ops.render import render_manifest
from sparkeo.settings import Settings
from tests.sparkeo.ops.conftest import ADD


def test_the_rendered_manifest_carries_the_shared_labels(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARKEO_CATALOG", raising=False)
    prep = prepare_job(GraphSource.of(json.dumps(ADD), "graph.json"), Caller.from_values("a@x.org", None),
                       Settings.from_env(), job_id="j-render", output=str(tmp_path / "out"))
    doc = render_manifest(prep)
    labels = doc["metadata"]["labels"]
    assert labels[contracts.LABEL_JOB_ID] == "j-render" and labels[contracts.LABEL_MANAGED_BY] == contracts.MANAGED_BY
    assert labels[contracts.LABEL_USER] != "a@x.org"                 # sanitised for a label value
    assert doc["metadata"]["annotations"][contracts.ANNOTATION_USER] == "a@x.org"
    assert doc["spec"]["sparkConf"]["spark.metrics.namespace"] == contracts.METRICS_NAMESPACE
