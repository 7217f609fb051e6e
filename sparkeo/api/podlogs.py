"""Cluster mode's job logs: the driver pod's log (``GET .../pods/<app>-driver/log``, which the API's
RBAC allows) as openEO log entries.

Each line that starts a log record (Python's ``LEVEL logger: ...``, Spark's log4j ``yy/MM/dd HH:mm:ss
LEVEL ...``, the driver's ``Error: ...``) is one entry with that level; lines that start none (a
traceback, a wrapped message) belong to the entry before them. Entry ids are the line numbers, so
``offset`` pages through a log that is still growing. A pod that is gone (404: the application was
deleted) has no log; the caller falls back to the record's error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sparkeo.contracts import DRIVER_POD
from sparkeo.errors import RunError

_LEVEL = re.compile(r"^(?:\d{2,4}[/-]\d{2}[/-]\d{2}[ T]\d{2}:\d{2}:\d{2}\S*\s+)?"
                    r"(?P<level>CRITICAL|FATAL|ERROR|Error(?=:)|WARNING|WARN|INFO|DEBUG|TRACE)\b")
_OPENEO_LEVEL = {"CRITICAL": "error", "FATAL": "error", "ERROR": "error", "Error": "error", "WARNING": "warning",
                 "WARN": "warning", "INFO": "info", "DEBUG": "debug", "TRACE": "debug"}


class DriverLogUnreadable(RunError):
    """Raised when the Kubernetes API does not answer a driver pod's log (other than 404)."""

    template = "job {job_id}: the log of driver pod {pod} is unreadable: {reason}"


def entries_of(text: str) -> list[dict]:
    """openEO log entries (``id``, ``level``, ``message``) of a driver log's ``text``."""
    entries: list[dict] = []
    for number, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        match = _LEVEL.match(line)
        if match is None and entries:
            entries[-1]["message"] += "\n" + line
            continue
        level = _OPENEO_LEVEL[match["level"]] if match else "info"
        entries.append({"id": str(number), "level": level, "message": line})
    return entries


@dataclass(frozen=True)
class DriverLogs:
    """Reads driver pod logs through ``core_api`` (a ``kubernetes.client.CoreV1Api``)."""

    core_api: Any
    namespace: str

    @classmethod
    def sharing(cls, sparkapps_api: Any, namespace: str) -> "DriverLogs":
        """Over the connection (kubeconfig or service account) of a ``sparkapps.client.SparkAppsApi``."""
        from kubernetes import client

        return cls(client.CoreV1Api(sparkapps_api.api.api_client), namespace)

    def entries(self, job_id: str, app_name: str, namespace: str | None = None) -> list[dict] | None:
        """The log entries of ``app_name``'s driver pod; ``None`` when the pod does not exist."""
        pod = DRIVER_POD.format(app=app_name)
        try:
            text = self.core_api.read_namespaced_pod_log(pod, namespace or self.namespace, _request_timeout=(5, 30))
        except Exception as exc:    # ApiException or a connection error: translated here, once
            if getattr(exc, "status", None) == 404:
                return None
            status = getattr(exc, "status", None)
            raise DriverLogUnreadable(job_id, pod, f"HTTP {status}" if status else (str(exc) or repr(exc))) from None
        return entries_of(text)
