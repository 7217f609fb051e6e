"""Read-only ``http://``/``https://`` documents for ``sparkeo.storage``: static STAC catalogs served
over the web (``load_stac(url)``) are walked and fingerprinted like local and S3 ones.

Plain ``urllib`` (no session to keep): a static catalog is read once into the index cache, and its
container documents are only fingerprinted (``HEAD``: ETag, else Last-Modified, and size) afterwards.
A 404/410 is ``NotFoundInStorage`` (the user named a missing document, exit 2); a server or network
failure is ``StorageError`` naming the URL (exit 1). Every redirect is checked against the read policy
of the user location being resolved (``sparkeo.readpolicy``): a public URL cannot redirect to the
metadata service or a private host.
"""
from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request

from sparkeo import readpolicy
from sparkeo.errors import NotFoundInStorage, StorageError

TIMEOUT_SECONDS = 30
USER_AGENT = "sparkeo"


def is_http(uri: str) -> bool:
    """True for an ``http://`` or ``https://`` URL."""
    return str(uri).startswith(("http://", "https://"))


def resolve(base_url: str, href: str) -> str:
    """``href`` relative to the document at ``base_url`` (RFC 3986, as STAC links are meant)."""
    return urllib.parse.urljoin(base_url, href)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a location the current read policy allows (``ReadRefused`` else)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        readpolicy.check_current(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_CheckedRedirects)


def _open(url: str, method: str):
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    try:
        return _OPENER.open(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            raise NotFoundInStorage(url) from None
        raise StorageError(url, f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:     # refused, DNS, timeout
        raise StorageError(url, str(getattr(exc, "reason", None) or exc)) from None


def read_bytes(url: str) -> bytes:
    """The body of a ``GET``."""
    with _open(url, "GET") as response:
        try:
            return response.read()
        except OSError as exc:
            raise StorageError(url, str(exc)) from None


def stat(url: str) -> tuple[int, str]:
    """``(size, fingerprint)`` from a ``HEAD``: the ETag, else Last-Modified with the size; a server
    that gives neither yields a fingerprint that never repeats (the index then rebuilds on every open)."""
    with _open(url, "HEAD") as response:
        headers = response.headers
        size = int(headers.get("Content-Length") or 0)
        fingerprint = (headers.get("ETag") or "").strip('"') or headers.get("Last-Modified") or ""
        return size, f"{fingerprint}:{size}" if fingerprint else f"unknown:{time.time_ns()}"
