"""Which locations a job may read because its user named them (``load_stac``'s ``url``, a ``geometries``
path or URL, ``load_geojson``'s ``data``): the server reads them with its own credentials.

``any`` (the command line's default): a user running their own job reads what they like. ``restricted``
(``Settings.for_web_api``: strangers' graphs): only ``http(s)://`` URLs whose host resolves to public
addresses, hosts an operator allow-listed, and the locations granted to the job (the caller's own job
results, resolved by the API). Refused: local paths, ``file://``, ``s3://``, ``/vsi*`` and web URLs to
loopback, link-local (the cloud metadata service), private or otherwise non-global addresses, checked
after DNS resolution and on every redirect.

The readers check the location the user named (``check``); the documents and assets reached from it
(a STAC catalog's links, its items' asset hrefs, a redirect) are checked against the policy that
``reading_for_user`` makes current while the user's location is resolved: storage and the web reader
call ``check_current`` for every read. A ``ContextVar`` and not a parameter, because the reads happen
deep inside the STAC walk that the layer catalog shares with operator-configured collections, which
are read without the policy; a context variable is per thread, so a batch job and a synchronous request
on two threads of the web API do not see each other's policy.
"""
from __future__ import annotations

import ipaddress
import os
import posixpath
import socket
import urllib.parse
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Iterable, Iterator

from sparkeo.errors import ConfigError, UserError

ANY, RESTRICTED = "any", "restricted"
MODES = (ANY, RESTRICTED)
WEB_SCHEMES = ("http", "https")


class ReadRefused(UserError):
    """Raised when the read policy forbids reading a location a user named (exit 2; the reader
    that catches it names the node and argument)."""

    template = "reading {url!r} is refused: {reason}"


@dataclass(frozen=True)
class ReadPolicy:
    """``mode`` (``any``/``restricted``); ``allow``: hosts (``name`` or ``name:port``) readable although
    they resolve to private addresses; ``grants``: location prefixes (folders, ``s3://`` prefixes) a
    restricted job may read, its caller's own job results."""

    mode: str = ANY
    allow: tuple[str, ...] = ()
    grants: tuple[str, ...] = ()

    def __post_init__(self):
        if self.mode not in MODES:
            raise ConfigError("SPARKEO_USER_READS", self.mode, f"expected one of {', '.join(MODES)}")
        object.__setattr__(self, "allow", tuple(h.lower() for h in self.allow))    # host names ignore case

    @property
    def restricted(self) -> bool:
        """True when users read only what ``check`` allows (the web API), False when anything (the CLI)."""
        return self.mode == RESTRICTED

    def granting(self, *locations: str) -> "ReadPolicy":
        """This policy, with ``locations`` (and everything below them) readable too."""
        return replace(self, grants=tuple(dict.fromkeys((*self.grants, *map(_normal, locations)))))

    def check(self, url: str) -> None:
        """Raise ``ReadRefused`` unless the policy lets a user read ``url``."""
        if not self.restricted:
            return
        url = str(url)
        if any(_below(_normal(url), grant) for grant in self.grants):
            return
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
            raise ReadRefused(url, "only http(s):// URLs (and your own job results) are readable here")
        host = parts.hostname.lower()
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        if host in self.allow or f"{host}:{port}" in self.allow:
            return
        for address in _addresses(url, host, port):
            if not _public(address):
                shown = host if host.strip("[]") == address else f"{host} ({address})"
                raise ReadRefused(url, f"{shown} is a {_kind(address)} address; only public hosts are "
                                       "readable here")

    def check_all(self, urls: Iterable[str]) -> None:
        """``check`` each of ``urls``: web URLs once per scheme, host and port (one DNS lookup each)."""
        first: dict[object, str] = {}
        for url in urls:
            parts = urllib.parse.urlsplit(str(url))
            first.setdefault((parts.scheme.lower(), parts.netloc) if parts.scheme.lower() in WEB_SCHEMES else url, url)
        for url in first.values():
            self.check(url)

    @classmethod
    def parse(cls, text: str) -> "ReadPolicy":
        """From ``SPARKEO_USER_READS``: ``any``, ``restricted``, or
        ``restricted;allow=h1,h2:8080;grant=/a,s3://b/c``."""
        mode, *options = [p.strip() for p in str(text).split(";")]
        values: dict[str, tuple[str, ...]] = {}
        for option in options:
            key, sep, value = option.partition("=")
            if not sep or key.strip() not in ("allow", "grant"):
                raise ConfigError("SPARKEO_USER_READS", text, "expected MODE[;allow=HOST,...][;grant=LOCATION,...]")
            values[key.strip()] = tuple(v.strip() for v in value.split(",") if v.strip())
        return cls(mode or ANY, values.get("allow", ()), values.get("grant", ()))

    def __str__(self) -> str:
        text = self.mode
        if self.allow:
            text += ";allow=" + ",".join(self.allow)
        if self.grants:
            text += ";grant=" + ",".join(self.grants)
        return text


# the policy of the user location being resolved on this thread (None: an operator's own reads)
_CURRENT: ContextVar[ReadPolicy | None] = ContextVar("sparkeo_user_read_policy", default=None)


@contextmanager
def reading_for_user(policy: ReadPolicy) -> Iterator[None]:
    """Every storage and web read inside the block is checked against ``policy`` (``check_current``)."""
    token = _CURRENT.set(policy if policy.restricted else None)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def check_current(url: str) -> None:
    """Raise ``ReadRefused`` when a user location is being resolved and its policy forbids ``url``."""
    policy = _CURRENT.get()
    if policy is not None:
        policy.check(url)


def _normal(location: str) -> str:
    """A location in the form grants compare: local paths absolute and without ``..``, URLs normalised."""
    location = str(location)
    if location.startswith("file://"):
        location = urllib.parse.urlsplit(location).path
    if location.startswith("s3://"):
        return "s3://" + posixpath.normpath(location[5:])
    if "://" in location or location.startswith("/vsi"):
        return location
    return os.path.normpath(os.path.abspath(os.path.expanduser(location)))


def _below(location: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return location == prefix or location.startswith(prefix + "/")


def _addresses(url: str, host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ReadRefused(url, f"{host} does not resolve: {exc}") from None
    return sorted({info[4][0] for info in infos})


def _ip(address: str):
    """The address (an IPv4-mapped IPv6 one as the IPv4 address it maps: the same host)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _public(address: str) -> bool:
    ip = _ip(address)
    return ip.is_global and not ip.is_multicast


def _kind(address: str) -> str:
    ip = _ip(address)
    for kind in ("loopback", "link_local", "private", "multicast", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return "non-public"
