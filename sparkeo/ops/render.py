"""``render``: a prepared job's SparkApplication manifest, validated against the operator's CRD schema."""
from __future__ import annotations

from sparkapps import manifest, validate
from sparkeo.ops.prepare import PreparedJob


def render_manifest(prep: PreparedJob) -> dict:
    """The SparkApplication of ``prep`` (pure apart from reading the CRD schema); ``SparkAppInvalid``
    or ``JobOptionError`` (exit 2) when the deployment and options do not make a valid one."""
    doc = manifest.render(prep.job, prep.deployment)
    validate.check(doc, validate.load_schema(prep.deployment.crd))
    return doc
