"""The HTTP side of the test API server: the custom-objects REST paths of the ``kubernetes`` client.

    POST   /apis/sparkoperator.k8s.io/v1beta2/namespaces/{ns}/sparkapplications          201
    GET    /apis/sparkoperator.k8s.io/v1beta2/namespaces/{ns}/sparkapplications          list
    GET    /apis/sparkoperator.k8s.io/v1beta2/sparkapplications                          list, all namespaces
    GET    .../sparkapplications/{name}[/status]                                         200/404
    PATCH  .../sparkapplications/{name}[/status]  (application/merge-patch+json)          200/404/422
    DELETE .../sparkapplications/{name}                                                  200/404
    GET    /api/v1/namespaces/{ns}/pods/{name}/log  (tailLines, limitBytes)               200 text/plain/404
    POST   /_test/seed/{ns}   [{"manifest": {...}, "status": {...}}, ...]  test-only bulk seeding

Errors are Kubernetes ``Status`` bodies. Runs in a thread on a loopback port (``K8sTestServer``).
"""
from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from sparkeo.testing.replies import reply
from sparkeo.testing.k8s_api.store import API_VERSION, KIND, ApiError, Store

_BASE = r"^/apis/sparkoperator\.k8s\.io/v1beta2"
_NAMESPACED = re.compile(_BASE + r"/namespaces/(?P<ns>[^/]+)/sparkapplications(?:/(?P<name>[^/]+)(?:/(?P<sub>status))?)?/?$")
_ALL = re.compile(_BASE + r"/sparkapplications/?$")
_POD_LOG = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/log/?$")
_SEED = re.compile(r"^/_test/seed/(?P<ns>[^/]+)$")
MERGE_PATCH = "application/merge-patch+json"


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # headers and body go out as separate writes: without this, Nagle + delayed ACK add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _send(self, code: int, body: object) -> None:
        self._send_raw(code, json.dumps(body, separators=(",", ":")).encode())

    def _send_raw(self, code: int, data: bytes) -> None:
        reply(self, code, data, "application/json")

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise ApiError(400, "BadRequest", "request body is not valid JSON") from None

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        store = self.server.store
        store.requests.append((method, url.path))
        try:
            if method == "POST" and (m := _SEED.match(url.path)):
                pairs = [(entry["manifest"], entry.get("status")) for entry in self._body() or []]
                return self._send(201, {"seeded": store.seed(m["ns"], pairs)})
            if method == "GET" and (m := _POD_LOG.match(url.path)):
                return self._pod_log(m["ns"], m["name"], parse_qs(url.query))
            if method == "GET" and _ALL.match(url.path):
                return self._list(None, parse_qs(url.query))
            m = _NAMESPACED.match(url.path)
            if not m:
                raise ApiError(404, "NotFound", f"the server could not find the requested resource ({url.path})")
            ns, name, sub = m["ns"], m["name"], m["sub"]
            if name is None:
                if method == "GET":
                    return self._list(ns, parse_qs(url.query))
                if method == "POST":
                    return self._send(201, store.create(ns, self._body()))
            elif method == "GET":
                return self._send(200, store.get(ns, name))
            elif method == "PATCH":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if ctype != MERGE_PATCH:
                    raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: {MERGE_PATCH}")
                return self._send(200, store.patch(ns, name, self._body() or {}, sub))
            elif method == "DELETE" and sub is None:
                return self._send(200, store.delete(ns, name))
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {url.path}")
        except ApiError as exc:
            self._send(exc.code, exc.status_body())

    def _list(self, ns, query) -> None:
        one = {k: v[0] for k, v in query.items()}
        limit = int(one["limit"]) if one.get("limit") else None
        page = self.server.store.list(ns, one.get("labelSelector"), limit, one.get("continue"))
        meta = {"resourceVersion": page.resource_version}
        if page.continue_token:
            meta["continue"] = page.continue_token
        head = json.dumps({"apiVersion": API_VERSION, "kind": f"{KIND}List", "metadata": meta})
        # objects are stored pre-encoded: a 10,000-item LIST is a join, not 10,000 json.dumps
        self._send_raw(200, head[:-1].encode() + b',"items":[' + b",".join(page.encoded) + b"]}")

    def _pod_log(self, ns, name, query) -> None:
        def number(key):
            raw = (query.get(key) or [None])[0]
            if raw is None:
                return None
            if not raw.lstrip("-").isdigit():
                raise ApiError(400, "BadRequest", f"{key}: invalid value {raw!r}", group="", kind="pods")
            return int(raw)

        data = self.server.store.pods.log(ns, name, number("tailLines"), number("limitBytes"))
        if data is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found', name, group="", kind="pods")
        reply(self, 200, data, "text/plain")

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    store: Store


class K8sTestServer:
    """A running test API server: ``url``, its ``store``, ``write_kubeconfig(path)``, ``stop()``."""

    def __init__(self, crd_path: Path, host: str = "127.0.0.1"):
        self.store = Store(crd_path)
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.store = self.store
        self.port = self._httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="k8s-test-api", daemon=True)
        self._thread.start()

    def write_kubeconfig(self, path: Path, namespace: str = "sparkeo") -> Path:
        """A kubeconfig whose current context points at this server (as kubectl would read it)."""
        import yaml

        doc = {
            "apiVersion": "v1", "kind": "Config", "current-context": "sparkeo-test",
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "test-token"}}],
            "contexts": [{"name": "sparkeo-test", "context": {"cluster": "test", "user": "tester", "namespace": namespace}}],
        }
        path.write_text(yaml.safe_dump(doc))
        return path

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
