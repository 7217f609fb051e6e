"""What the test HTTP servers (the Kubernetes API, the fault-injecting S3 proxy) share."""
from __future__ import annotations

from http.server import BaseHTTPRequestHandler


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    """Send a complete response: status, ``Content-Type`` and ``Content-Length`` headers, ``body``."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
