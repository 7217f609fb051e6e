"""The objects of the test API server: SparkApplications per namespace, validated and pruned like a
real API server does for a CRD with a structural schema, plus Secrets for the operator loop.

Errors are ``ApiError(code, reason, message)`` and become Kubernetes ``Status`` bodies in ``server``.
"""
from __future__ import annotations

import base64
import bisect
import copy
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import jsonschema
import yaml

from sparkeo.testing.k8s_api import selectors
from sparkeo.testing.k8s_api.pods import DriverPods

GROUP, VERSION, PLURAL, KIND = "sparkoperator.k8s.io", "v1beta2", "sparkapplications", "SparkApplication"
API_VERSION = f"{GROUP}/{VERSION}"
# metadata fields an API server keeps (ObjectMeta); everything else in metadata is dropped
META_KEEP = {"name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
             "deletionTimestamp", "labels", "annotations", "ownerReferences", "finalizers", "managedFields"}


class ApiError(Exception):
    """An API failure with its HTTP code and Kubernetes ``reason`` (NotFound, AlreadyExists, Invalid...)."""

    def __init__(self, code: int, reason: str, message: str, name: str | None = None, causes=(),
                 group: str = GROUP, kind: str = PLURAL):
        super().__init__(message)
        self.code, self.reason, self.message, self.name, self.causes = code, reason, message, name, list(causes)
        self.group, self.kind = group, kind

    def status_body(self) -> dict:
        # core resources (pods) have no group: the API server leaves the key out
        details = {"group": self.group, "kind": self.kind} if self.group else {"kind": self.kind}
        if self.name:
            details["name"] = self.name
        if self.causes:
            details["causes"] = self.causes
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "details": details, "code": self.code}


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_crd_schema(crd_path: Path) -> dict:
    doc = yaml.safe_load(crd_path.read_text())
    (version,) = [v for v in doc["spec"]["versions"] if v["name"] == VERSION]
    return version["schema"]["openAPIV3Schema"]


def prune(value: Any, schema: Mapping[str, Any]) -> Any:
    """A copy of ``value`` without the fields ``schema`` does not declare (structural pruning)."""
    if isinstance(value, list):
        items = schema.get("items") or {}
        return [prune(v, items) for v in value]
    if not isinstance(value, dict):
        return value
    if schema.get("x-kubernetes-preserve-unknown-fields") is True:
        props = schema.get("properties") or {}
        return {k: prune(v, props[k]) if k in props else v for k, v in value.items()}
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    out = {}
    for k, v in value.items():
        if k in props:
            out[k] = prune(v, props[k])
        elif isinstance(extra, dict):
            out[k] = prune(v, extra)
        elif extra is True:
            out[k] = v
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge-patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


@dataclass(frozen=True)
class Page:
    """One LIST page: the objects and their JSON encodings (what the server sends)."""

    items: list[dict]
    encoded: list[bytes]
    continue_token: str | None
    resource_version: str


class Store:
    """Thread-safe SparkApplication storage with the semantics of the real API server's CRD handler."""

    def __init__(self, crd_path: Path):
        self.crd_path = crd_path
        self.schema = load_crd_schema(crd_path)
        self._validator = jsonschema.Draft7Validator(self.schema)
        self._lock = threading.RLock()
        self._rv = 0
        self.reset()

    def reset(self) -> None:
        """Forget every object, Secret and logged request (resourceVersions keep growing)."""
        with self._lock:
            self._objects: dict[tuple[str, str], dict] = {}
            self._encoded: dict[tuple[str, str], bytes] = {}  # JSON of each object, for fast LISTs
            self._keys: list[tuple[str, str]] = []  # sorted, for LIST pagination
            self.secrets: dict[tuple[str, str], dict[str, str]] = {}
            self.pods = DriverPods()    # the driver pods the operator loop started, with their logs
            self.requests: list[tuple[str, str]] = []  # (method, path) log, for tests that count calls
            self.last_pruned: dict[str, Any] | None = None

    # -- helpers -------------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _admit(self, obj: dict, name: str, validate: bool = True) -> dict:
        """Validate against the CRD schema (422) and prune unknown fields, as the API server does."""
        errors = sorted(self._validator.iter_errors(obj), key=lambda e: list(e.absolute_path)) if validate else []
        if errors:
            causes = [{"reason": "FieldValueInvalid", "message": e.message,
                       "field": ".".join(str(p) for p in e.absolute_path)} for e in errors]
            text = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
            raise ApiError(422, "Invalid", f'{KIND}.{GROUP} "{name}" is invalid: {text}', name, causes)
        pruned = {k: v for k, v in obj.items() if k in ("apiVersion", "kind", "metadata", "spec", "status")}
        pruned["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k in META_KEEP}
        if "spec" in obj:
            pruned["spec"] = prune(obj["spec"], self.schema["properties"]["spec"])
        if "status" in obj:
            pruned["status"] = prune(obj["status"], self.schema["properties"]["status"])
        return pruned

    def _store(self, key: tuple[str, str], obj: dict) -> None:
        self._objects[key] = obj
        self._encoded[key] = json.dumps(obj, separators=(",", ":")).encode()

    # -- the REST verbs ------------------------------------------------------------------------
    def create(self, namespace: str, body: Mapping[str, Any], status: Mapping[str, Any] | None = None,
               validate: bool = True) -> dict:
        """POST: 201 with the stored object; 409 when the name exists; 422 when invalid.

        ``status`` is for seeding only: the real POST drops ``status`` (a status subresource exists).
        """
        if not isinstance(body, Mapping):
            raise ApiError(400, "BadRequest", "body must be a JSON object")
        meta = dict(body.get("metadata") or {})
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{KIND}.{GROUP} is invalid: metadata.name: Required value")
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        if body.get("apiVersion") != API_VERSION or body.get("kind") != KIND:
            raise ApiError(400, "BadRequest", f"expected {API_VERSION} {KIND}, got {body.get('apiVersion')} {body.get('kind')}")
        obj = {k: copy.deepcopy(v) for k, v in body.items() if k != "status"}
        obj["metadata"] = {**meta, "namespace": namespace}
        admitted = self._admit(obj, name, validate)
        self.last_pruned = admitted
        with self._lock:
            key = (namespace, name)
            if key in self._objects:
                raise ApiError(409, "AlreadyExists", f'{PLURAL}.{GROUP} "{name}" already exists', name)
            admitted["metadata"].update({
                "uid": str(uuid.uuid4()), "resourceVersion": self._next_rv(), "generation": 1,
                "creationTimestamp": now_iso(),
            })
            if status is not None:
                admitted["status"] = copy.deepcopy(dict(status))
            self._store(key, admitted)
            bisect.insort(self._keys, key)
            return copy.deepcopy(admitted)

    def get(self, namespace: str, name: str) -> dict:
        with self._lock:
            obj = self._objects.get((namespace, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{PLURAL}.{GROUP} "{name}" not found', name)
            return copy.deepcopy(obj)

    def exists(self, namespace: str, name: str) -> bool:
        with self._lock:
            return (namespace, name) in self._objects

    def list(self, namespace: str | None, label_selector: str | None = None,
             limit: int | None = None, continue_token: str | None = None) -> Page:
        """LIST in name order; ``limit``/``continue`` pagination; ``namespace`` None: all namespaces."""
        try:
            match = selectors.parse(label_selector)
        except selectors.SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        with self._lock:
            start = 0
            if continue_token:
                try:
                    after = tuple(json.loads(base64.urlsafe_b64decode(continue_token.encode())))
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid continue token {continue_token!r}") from None
                start = bisect.bisect_right(self._keys, after)
            items, last, more = [], None, False
            for key in self._keys[start:]:
                if namespace is not None and key[0] != namespace:
                    continue
                obj = self._objects[key]
                if not match((obj["metadata"].get("labels") or {})):
                    continue
                if limit and len(items) >= limit:
                    more = True
                    break
                items.append(key)
                last = key
            token = base64.urlsafe_b64encode(json.dumps(list(last)).encode()).decode() if more else None
            return Page([self._objects[k] for k in items], [self._encoded[k] for k in items], token, str(self._rv))

    def patch(self, namespace: str, name: str, patch: Mapping[str, Any], subresource: str | None = None) -> dict:
        """Merge-patch the object (main resource: spec/metadata; ``status`` subresource: status)."""
        with self._lock:
            current = self.get(namespace, name)
            if subresource == "status":
                updated = {**current, "status": merge_patch(current.get("status") or {}, (patch or {}).get("status") or {})}
            else:
                patch = {k: v for k, v in (patch or {}).items() if k != "status"}
                updated = merge_patch(current, patch)
                updated["metadata"] = {**updated.get("metadata", {}), "name": name, "namespace": namespace,
                                       "uid": current["metadata"]["uid"]}
            admitted = self._admit(updated, name)
            if admitted.get("spec") != current.get("spec"):
                admitted["metadata"]["generation"] = current["metadata"]["generation"] + 1
            admitted["metadata"]["resourceVersion"] = self._next_rv()
            self._store((namespace, name), admitted)
            return copy.deepcopy(admitted)

    def set_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> dict | None:
        """What the operator writes (status subresource); None when the object is gone."""
        with self._lock:
            if (namespace, name) not in self._objects:
                return None
            return self.patch(namespace, name, {"status": dict(status)}, subresource="status")

    def delete(self, namespace: str, name: str) -> dict:
        with self._lock:
            obj = self._objects.pop((namespace, name), None)
            self._encoded.pop((namespace, name), None)
            if obj is None:
                raise ApiError(404, "NotFound", f'{PLURAL}.{GROUP} "{name}" not found', name)
            self._keys.remove((namespace, name))
            self._next_rv()
        self.pods.remove_owned_by(namespace, name)     # the garbage collector deletes the driver pod with its owner
        return obj

    def seed(self, namespace: str, objects: Iterable[tuple[Mapping[str, Any], Mapping[str, Any] | None]],
             validate: bool = False) -> int:
        """Insert ``(manifest, status)`` pairs directly (pruned; schema-checked when ``validate``),
        e.g. 10,000 applications in mixed states for the tracker's bench."""
        n = 0
        for body, status in objects:
            self.create(namespace, body, status=status, validate=validate)
            n += 1
        return n

    def names(self, namespace: str) -> list[str]:
        with self._lock:
            return [k[1] for k in self._keys if k[0] == namespace]
