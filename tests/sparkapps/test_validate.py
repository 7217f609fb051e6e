"""Manifests are checked against the CRD schema, and fields a real API server would prune are reported."""
from __future__ import annotations

import copy

import pytest
import yaml

from sparkapps import validate
from sparkapps.deployment import DeploymentSettings
from sparkapps.errors import SparkAppInvalid
from sparkapps.manifest import JobSpec, render

CRD_2X = "spec/spark-operator/sparkoperator.k8s.io_sparkapplications.yaml"
CRD_138 = "spec/spark-operator/legacy-v1beta2-1.3.8/sparkoperator.k8s.io_sparkapplications.yaml"
GOOD = render(JobSpec(job_id="j-1", user="u", graph_uri="g", output_uri="o"), DeploymentSettings())


def test_shipped_schema_is_the_upstream_2x_crd_without_descriptions(shared_dir):
    upstream = yaml.safe_load((shared_dir / CRD_2X).read_text())
    assert validate.load_schema() == validate.strip_descriptions(validate.schema_of(upstream))


@pytest.mark.parametrize("crd", [None, CRD_138], ids=["shipped-2.5.2", "operator-1.3.8"])
@pytest.mark.parametrize("edit, expected", [
    (lambda m: m["spec"].update(type="Pyton"), "spec/type: 'Pyton' is not one of"),
    (lambda m: m["spec"]["driver"].update(cores=0), "spec/driver/cores: 0 is less than the minimum of 1"),
    (lambda m: m["spec"]["driver"].update(cores="2"), "spec/driver/cores: '2' is not of type 'integer'"),
    (lambda m: m["spec"]["restartPolicy"].update(type="Sometimes"), "spec/restartPolicy/type"),
    (lambda m: m["spec"].pop("sparkVersion"), "spec: 'sparkVersion' is a required property"),
    (lambda m: m["spec"]["monitoring"].pop("exposeDriverMetrics"), "'exposeDriverMetrics' is a required property"),
])
def test_schema_violations_are_reported_with_their_path(shared_dir, crd, edit, expected):
    schema = validate.load_schema(str(shared_dir / crd) if crd else None)
    manifest = copy.deepcopy(GOOD)
    edit(manifest)
    errors = validate.schema_errors(manifest, schema)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("edit, path", [
    (lambda m: m["spec"]["driver"].update(memoryOverHead="1g"), "spec/driver/memoryOverHead"),
    (lambda m: m["spec"].update(sparkconf={"a": "b"}), "spec/sparkconf"),
    (lambda m: m["spec"]["volumes"][0]["hostPath"].update(readonly=True), "spec/volumes/0/hostPath/readonly"),
    (lambda m: m["spec"]["driver"]["env"][0].update(valueFromm={}), "spec/driver/env/0/valueFromm"),
    (lambda m: m["metadata"].update(label={"a": "b"}), "metadata/label"),
    (lambda m: m.update(extra=1), "extra"),
])
def test_unknown_fields_are_reported_as_pruned(edit, path):
    manifest = copy.deepcopy(GOOD)
    edit(manifest)
    assert validate.pruned_fields(manifest, validate.load_schema()) == [path]


def test_free_form_maps_are_not_pruned():
    manifest = copy.deepcopy(GOOD)
    manifest["spec"]["sparkConf"]["spark.any.key"] = "x"          # additionalProperties: string
    manifest["spec"]["driver"]["labels"]["team"] = "eo"
    manifest["spec"]["driver"]["nodeSelector"] = {"pool": "big"}
    assert validate.pruned_fields(manifest, validate.load_schema()) == []


def test_preserve_unknown_fields_keeps_everything_below():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
            "known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
        "strict": {"type": "object", "properties": {"a": {"type": "string"}}}}}}}
    doc = {"spec": {"free": {"anything": {"deep": 1}, "known": {"a": "x", "b": "y"}}, "strict": {"a": "x", "b": 1}}}
    # below a preserve-unknown-fields node, declared properties are still pruned structurally
    assert validate.pruned_fields(doc, schema) == ["spec/free/known/b", "spec/strict/b"]


def test_check_raises_with_every_problem():
    manifest = copy.deepcopy(GOOD)
    manifest["spec"]["type"] = "Pyton"
    manifest["spec"]["executor"]["instancess"] = 2
    with pytest.raises(SparkAppInvalid) as err:
        validate.check(manifest)
    assert len(err.value.problems) == 2
    assert "sparkeo/j-1" in str(err.value) and "instancess" in str(err.value) and "Pyton" in str(err.value)
    validate.check(GOOD)  # the good one passes
