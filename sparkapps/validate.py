"""Check a SparkApplication against the CRD's openAPIV3Schema before anything is sent.

Two checks, both needed on a real cluster:
- schema violations (types, enums, required fields, minimums): the API server answers 422;
- fields the structural schema does not know: the API server silently *prunes* them, so a misspelt
  field (``memoryOverHead``) is lost without an error. ``pruned_fields`` reports them.

The operator 2.x schema ships with sparkeo (``sparkapps/crd/``, descriptions stripped, generated from
the upstream CRD by ``schema_of``); any other CRD file (1.3.x) can be named instead.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from sparkapps.errors import SparkAppInvalid

SHIPPED_CRD = Path(__file__).with_name("crd") / "sparkapplications-v1beta2-2.5.2.json"
# ObjectMeta fields an API server keeps on any object (the CRD schema says only "type: object")
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
})


def strip_descriptions(node: Any) -> Any:
    """The schema without ``description`` texts (they are most of its size and never validate)."""
    if isinstance(node, dict):
        return {k: strip_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    return node


def schema_of(crd: Mapping[str, Any], version: str = "v1beta2") -> dict:
    """The openAPIV3Schema of ``version`` in a CustomResourceDefinition document."""
    for v in crd.get("spec", {}).get("versions", []):
        if v.get("name") == version:
            return v["schema"]["openAPIV3Schema"]
    raise ValueError(f"CRD {crd.get('metadata', {}).get('name')!r} has no version {version!r}")


@functools.lru_cache(maxsize=8)
def load_schema(path: str | None = None) -> dict:
    """The schema from a CRD YAML file, or from the shipped operator 2.x schema when ``path`` is None."""
    if path is None:
        return json.loads(SHIPPED_CRD.read_text())
    text = Path(path).read_text()
    doc = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    return doc if "properties" in doc else schema_of(doc)


def schema_errors(manifest: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """One ``path: message`` line per schema violation, sorted by path."""
    validator = _validator(schema)
    out = []
    for err in validator.iter_errors(manifest):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(f"{where}: {err.message}")
    return sorted(out)


_VALIDATORS: dict[int, tuple[Mapping[str, Any], Any]] = {}


def _validator(schema: Mapping[str, Any]):
    """One compiled validator per schema object (the shipped schema is ~95 KB: build it once)."""
    import jsonschema

    cached = _VALIDATORS.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = (schema, jsonschema.Draft7Validator(schema))
        _VALIDATORS[id(schema)] = cached
    return cached[1]


def pruned_fields(manifest: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Paths (``spec/driver/memoryOverHead``) of fields a structural-schema API server would drop."""
    out = []
    for key, value in manifest.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata" and isinstance(value, Mapping):
            out += [f"metadata/{k}" for k in value if k not in OBJECT_META_FIELDS]
            continue
        props = schema.get("properties", {})
        if key in props:
            out += list(_pruned(value, props[key], key))
        else:
            out.append(key)
    return sorted(out)


def _pruned(value: Any, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                yield from _pruned(item, items, f"{path}/{i}")
        return
    if not isinstance(value, Mapping):
        return
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True or extra is True
    for key, sub in value.items():
        if key in props:
            yield from _pruned(sub, props[key], f"{path}/{key}")
        elif isinstance(extra, Mapping):
            yield from _pruned(sub, extra, f"{path}/{key}")
        elif not keep_unknown:
            yield f"{path}/{key}"


def problems(manifest: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Everything wrong with a manifest: schema violations, then fields that would be pruned."""
    found = schema_errors(manifest, schema)
    found += [f"{p}: unknown field (a Kubernetes API server would drop it)" for p in pruned_fields(manifest, schema)]
    meta = manifest.get("metadata") or {}
    if not meta.get("name"):
        found.append("metadata/name: missing")
    return found


def check(manifest: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> None:
    """Raise ``SparkAppInvalid`` listing every problem of ``manifest`` (shipped 2.x schema by default)."""
    found = problems(manifest, load_schema() if schema is None else schema)
    if found:
        meta = manifest.get("metadata") or {}
        raise SparkAppInvalid(str(meta.get("name")), str(meta.get("namespace")), found)
