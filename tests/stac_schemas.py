"""Offline validation of STAC documents against the official JSON Schemas.

The STAC core 1.1.0 schemas ship inside pystac; the extension schemas are the ones in
``../shared/spec/stac-extensions/`` (each resolved from its ``$id`` URL to its file). A document is
checked against its core schema and every schema its ``stac_extensions`` lists, as stac-validator
does; an extension whose schema is not available offline is itself an error.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.shared_location import SHARED

STAC_BASE = "https://schemas.stacspec.org/v1.1.0"
CORE = {"Feature": f"{STAC_BASE}/item-spec/json-schema/item.json",
        "Collection": f"{STAC_BASE}/collection-spec/json-schema/collection.json",
        "Catalog": f"{STAC_BASE}/catalog-spec/json-schema/catalog.json"}


@lru_cache(maxsize=1)
def registry() -> Registry:
    """Every schema a results document may need, by the URL it is referenced by."""
    import pystac.validation.jsonschemas as bundled

    root = Path(bundled.__file__).parent
    resources = {}
    for path in (root / "stac-spec" / "v1.1.0").glob("*.json"):
        spec = {"collection.json": "collection-spec", "catalog.json": "catalog-spec"}.get(path.name, "item-spec")
        # by file location, not $id: pystac's copy of common.json carries a mistyped $id
        resources[f"{STAC_BASE}/{spec}/json-schema/{path.name}"] = json.loads(path.read_text())
    for path in (root / "geojson").glob("*.json"):
        resources[f"https://geojson.org/schema/{path.name}"] = json.loads(path.read_text())
    for path in (SHARED / "spec" / "stac-extensions").glob("*/*/schema.json"):
        doc = json.loads(path.read_text())
        resources[doc["$id"]] = doc
    return Registry().with_resources(
        (url, Resource.from_contents(doc, default_specification=DRAFT7)) for url, doc in resources.items())


def stac_errors(doc: dict) -> list[str]:
    """Every schema violation of ``doc`` (core and extensions), as ``schema: path: message`` lines."""
    reg = registry()
    schemas = [CORE[doc.get("type")], *doc.get("stac_extensions", [])]
    errors = []
    for url in schemas:
        try:
            schema = reg.get_or_retrieve(url).value.contents
        except Exception:   # referencing's Unretrievable: no network here, and none wanted
            errors.append(f"{url}: schema not available offline")
            continue
        validator = jsonschema.Draft7Validator(schema, registry=reg)
        for e in validator.iter_errors(doc):
            # a oneOf/anyOf failure says only "not valid under any of the given schemas": name the cause
            cause = max(_leaves(e), key=lambda c: len(c.absolute_path))
            errors.append(f"{url}: {'/'.join(str(p) for p in cause.absolute_path)}: {cause.message}")
    return errors


def _leaves(error):
    """The innermost errors under a (oneOf/anyOf) error: the deepest is the one that says why."""
    if not error.context:
        return [error]
    return [leaf for sub in error.context for leaf in _leaves(sub)]


def assert_valid_stac(doc: dict, what: str = "") -> None:
    """Fail with every violation listed when ``doc`` does not validate."""
    errors = stac_errors(doc)
    assert not errors, f"{what or doc.get('id')}: " + "\n".join(errors)
