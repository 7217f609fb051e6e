"""A thin client for SparkApplications over ``kubernetes.client.CustomObjectsApi``.

Configuration is found like kubectl does it: an explicit kubeconfig, ``$KUBECONFIG`` or
``~/.kube/config``, else the pod's service account (in-cluster). Every HTTP error becomes a
``SubmitError`` subclass in one function, ``check_response``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from sparkeo import contracts
from sparkapps.errors import (
    KubernetesUnreachable, SparkAppConflict, SparkAppInvalid, SparkAppNotFound, SubmitError,
)

GROUP, VERSION, PLURAL = "sparkoperator.k8s.io", "v1beta2", "sparkapplications"
LIST_PAGE = 500
TIMEOUT = (5, 60)  # connect, read seconds


@dataclass(frozen=True)
class AppState:
    """What the operator says about one SparkApplication (its ``status``), for status and the tracker."""

    job_id: str
    namespace: str
    state: str  # applicationState.state; "" before the operator picked the application up
    error_message: str | None = None
    user: str | None = None
    spark_application_id: str | None = None
    driver_pod: str | None = None
    submitted: str | None = None  # lastSubmissionAttemptTime
    terminated: str | None = None  # terminationTime
    created: str | None = None  # metadata.creationTimestamp

    @classmethod
    def of(cls, app: Mapping[str, Any]) -> "AppState":
        """Read the state out of a SparkApplication object as the API returns it."""
        meta = app.get("metadata") or {}
        status = app.get("status") or {}
        app_state = status.get("applicationState") or {}
        annotations = meta.get("annotations") or {}
        labels = meta.get("labels") or {}
        return cls(
            job_id=meta.get("name", ""),
            namespace=meta.get("namespace", ""),
            state=app_state.get("state") or "",
            error_message=app_state.get("errorMessage") or None,
            user=annotations.get(contracts.ANNOTATION_USER) or labels.get(contracts.LABEL_USER),
            spark_application_id=status.get("sparkApplicationId"),
            driver_pod=(status.get("driverInfo") or {}).get("podName"),
            submitted=status.get("lastSubmissionAttemptTime"),
            terminated=status.get("terminationTime"),
            created=meta.get("creationTimestamp"),
        )

    def to_json(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def check_response(exc: Exception, name: str, namespace: str) -> SubmitError:
    """The one place HTTP statuses become errors: 404, 409, 422 and the rest."""
    status = getattr(exc, "status", None)
    if status == 404:
        return SparkAppNotFound(name, namespace)
    if status == 409:
        return SparkAppConflict(name, namespace, _status_message(exc) or "conflict")
    if status in (400, 422):
        return SparkAppInvalid(name, namespace, [_status_message(exc) or f"HTTP {status}"])
    if status is None:
        return KubernetesUnreachable(name, namespace, f"Kubernetes API unreachable: {str(exc) or repr(exc)}")
    return SubmitError(name, namespace, f"HTTP {status}: {_status_message(exc) or getattr(exc, 'reason', '')}")


def _status_message(exc: Exception) -> str:
    """The ``message`` of a Kubernetes ``Status`` body, or the raw body."""
    body = getattr(exc, "body", None)
    if not body:
        return ""
    try:
        return json.loads(body).get("message") or ""
    except (ValueError, AttributeError):
        return str(body)[:500]


def connect(kubeconfig: str | None = None, context: str | None = None) -> "SparkAppsApi":
    """A client configured like kubectl: kubeconfig if there is one, else in-cluster."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG") or None
    default = Path.home() / ".kube" / "config"
    try:
        if path or (default.is_file() and not os.environ.get("KUBERNETES_SERVICE_HOST")):
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg,
                                    persist_config=False)
        else:
            config.load_incluster_config(client_configuration=cfg)
    except (ConfigException, OSError) as exc:
        raise KubernetesUnreachable("-", "-", f"no Kubernetes configuration: {str(exc) or repr(exc)}") from None
    return SparkAppsApi(client.CustomObjectsApi(client.ApiClient(cfg)))


class SparkAppsApi:
    """create/get/list/patch/delete of SparkApplications; errors as ``SubmitError`` subclasses."""

    def __init__(self, custom_objects):
        self.api = custom_objects

    def _call(self, name: str, namespace: str, method: str, *args, **kwargs):
        try:
            return getattr(self.api, method)(GROUP, VERSION, namespace, PLURAL, *args,
                                             _request_timeout=TIMEOUT, **kwargs)
        except Exception as exc:  # ApiException or a urllib3 connection error
            if isinstance(exc, SubmitError):
                raise
            if getattr(exc, "status", None) is None and not _is_connection_error(exc):
                raise
            raise check_response(exc, name, namespace) from exc

    def create(self, manifest: Mapping[str, Any]) -> dict:
        """POST the manifest; ``SparkAppConflict`` when the name exists already."""
        meta = manifest["metadata"]
        return self._call(meta["name"], meta["namespace"], "create_namespaced_custom_object", dict(manifest))

    def get(self, namespace: str, name: str) -> dict:
        return self._call(name, namespace, "get_namespaced_custom_object", name)

    def patch(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict:
        """JSON merge-patch (RFC 7386) of one application."""
        return self._call(name, namespace, "patch_namespaced_custom_object", name, dict(patch),
                          _content_type="application/merge-patch+json")

    def delete(self, namespace: str, name: str) -> dict:
        return self._call(name, namespace, "delete_namespaced_custom_object", name,
                          propagation_policy="Background")

    def iter_apps(self, namespace: str, label_selector: str | None = contracts.SPARKEO_SELECTOR,
                  page: int = LIST_PAGE) -> Iterator[dict]:
        """Every application matching the selector, fetched in pages of ``page`` (``limit``/``continue``)."""
        token = None
        while True:
            kwargs: dict[str, Any] = {"limit": page}
            if label_selector:
                kwargs["label_selector"] = label_selector
            if token:
                kwargs["_continue"] = token
            result = self._call("*", namespace, "list_namespaced_custom_object", **kwargs)
            yield from result.get("items") or []
            token = (result.get("metadata") or {}).get("continue")
            if not token:
                return

    def list_states(self, namespace: str, label_selector: str | None = contracts.SPARKEO_SELECTOR) -> dict[str, AppState]:
        """``{job_id: AppState}`` of every matching application: one paginated LIST, never a GET per job."""
        return {s.job_id: s for s in (AppState.of(app) for app in self.iter_apps(namespace, label_selector))}

    def state(self, namespace: str, name: str) -> AppState:
        return AppState.of(self.get(namespace, name))


def _is_connection_error(exc: Exception) -> bool:
    import urllib3.exceptions

    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, OSError))
