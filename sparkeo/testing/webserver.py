"""A real HTTP server for a folder, on a free loopback port, with byte ranges: static STAC catalogs
and their COGs served over the web (``load_stac("http://...")``), read by sparkeo and by GDAL's
``/vsicurl/`` (which needs ``Range`` requests, which Python's own ``SimpleHTTPRequestHandler`` ignores).
"""
from __future__ import annotations

import functools
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

from sparkeo.testing.services import LOOPBACK

RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """``SimpleHTTPRequestHandler`` answering single ``Range: bytes=a-b`` requests with 206."""

    def log_message(self, format, *args):      # quiet: tests read the server's effects, not its log
        pass

    def end_headers(self):
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):
        wanted = RANGE.match(self.headers.get("Range", "").strip())
        path = self.translate_path(self.path)
        if wanted is None or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        first, last = wanted.groups()
        if first == "":                      # the last N bytes
            first, last = max(size - int(last), 0), size - 1
        else:
            first, last = int(first), min(int(last) if last else size - 1, size - 1)
        if first >= size or first > last:
            self.send_error(416, "Requested Range Not Satisfiable")
            return None
        fh = open(path, "rb")
        fh.seek(first)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Last-Modified", self.date_time_string(int(os.path.getmtime(path))))
        self.end_headers()
        self._remaining = last - first + 1
        return fh

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        while remaining > 0:
            chunk = source.read(min(remaining, 1 << 16))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)
        self._remaining = None


@dataclass(frozen=True)
class WebFolder:
    """A folder served at ``url`` (no trailing slash)."""

    url: str
    root: str

    def url_of(self, path: str) -> str:
        """The URL of a file below the folder (``path`` absolute inside it, or relative to it)."""
        rel = os.path.relpath(path, self.root) if os.path.isabs(path) else path
        return f"{self.url}/{rel.replace(os.sep, '/')}"


@contextmanager
def serve_folder(root: str) -> Iterator[WebFolder]:
    """Serve ``root`` over HTTP on 127.0.0.1 until the block ends."""
    handler = functools.partial(RangeRequestHandler, directory=str(root))
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="web-folder", daemon=True)
    thread.start()
    try:
        yield WebFolder(f"http://{LOOPBACK}:{server.server_address[1]}", str(root))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
