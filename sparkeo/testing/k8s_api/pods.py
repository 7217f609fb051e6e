"""The driver pods of the test API server: what ``GET /api/v1/namespaces/{ns}/pods/{name}/log`` reads.

The operator loop registers a pod (``<app>-driver``, the name the spark operator gives it) with the
file its container's output goes to when it starts the driver; a rerun replaces it, as the operator
starts a new driver pod of the same name. Deleting the application deletes its pods (the garbage
collector follows the owner reference). Reading a pod nobody registered is the API server's 404.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from sparkeo.contracts import DRIVER_POD


@dataclass(frozen=True)
class Pod:
    """One driver pod: its owner application and the file holding its container's log."""

    namespace: str
    name: str
    owner: str
    log_file: Path


class DriverPods:
    """Thread-safe ``(namespace, pod name) -> Pod``."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pods: dict[tuple[str, str], Pod] = {}

    def start(self, namespace: str, app: str, log_file: Path) -> Pod:
        """The driver pod of ``app`` now writes its log to ``log_file``."""
        pod = Pod(namespace, DRIVER_POD.format(app=app), app, log_file)
        with self._lock:
            self._pods[(namespace, pod.name)] = pod
        return pod

    def get(self, namespace: str, name: str) -> Pod | None:
        with self._lock:
            return self._pods.get((namespace, name))

    def remove_owned_by(self, namespace: str, app: str) -> None:
        with self._lock:
            for key in [k for k, pod in self._pods.items() if k[0] == namespace and pod.owner == app]:
                del self._pods[key]

    def log(self, namespace: str, name: str, tail_lines: int | None = None, limit_bytes: int | None = None) -> bytes | None:
        """The pod's log (``tailLines``/``limitBytes`` applied like the kubelet), ``None``: no such pod."""
        pod = self.get(namespace, name)
        if pod is None:
            return None
        try:
            data = pod.log_file.read_bytes()
        except FileNotFoundError:     # started, nothing written yet
            data = b""
        if tail_lines is not None:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-tail_lines:]) if tail_lines > 0 else b""
        if limit_bytes is not None:
            data = data[:limit_bytes]
        return data
