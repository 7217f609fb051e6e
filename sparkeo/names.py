"""The naming rules every front end and package shares: job ids and user names (DESIGN.md).

A job id is a SparkApplication name, a results folder name and a ZooKeeper path segment: a DNS-1123
label of at most 63 characters that starts with a letter (the operator derives DNS-1035 Service names
such as ``<name>-ui-svc`` from it). A user name is a ZooKeeper path segment and, sanitised, a
Kubernetes label value: at most 63 characters, printable, no ``/``, not ``.`` or ``..``.

Pure: no I/O. Every command, the driver and the registry check names here, at their boundary.
"""
from __future__ import annotations

import re
import secrets
import time
import unicodedata

from sparkeo.errors import UserError

MAX_NAME = 63
_JOB_ID = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class InvalidName(UserError, ValueError):
    """Raised when a job id or user name breaks its rule; ``kind`` is ``job id`` or ``user name``."""

    def __init__(self, kind: str, value: object, reason: str, **fields: object):
        super().__init__(f"invalid {kind} {value!r}: {reason}", kind=kind, value=value, reason=reason, **fields)


class InvalidJobId(InvalidName):
    """Raised when a job id is not a valid Kubernetes name (DNS-1123 label, at most 63 chars)."""

    def __init__(self, job_id: object, reason: str):
        super().__init__("job id", job_id, reason, job_id=job_id)


class InvalidUserName(InvalidName):
    """Raised when a user name cannot be a ZooKeeper path segment and a label value's source."""

    def __init__(self, user: object, reason: str):
        super().__init__("user name", user, reason, user=user)


def check_job_id(job_id: object) -> str:
    """Return ``job_id`` if it is a valid job id, else raise ``InvalidJobId`` saying why."""
    if not isinstance(job_id, str) or not job_id:
        raise InvalidJobId(job_id, "must be a non-empty string")
    if len(job_id) > MAX_NAME:
        raise InvalidJobId(job_id, f"longer than {MAX_NAME} characters ({len(job_id)})")
    if not _JOB_ID.match(job_id):
        raise InvalidJobId(
            job_id, "must be lower-case letters, digits and '-', start with a letter and end alphanumeric"
        )
    return job_id


def new_job_id(prefix: str = "j", now: float | None = None) -> str:
    """A fresh job id: ``<prefix>-<UTC yyyymmddhhmmss>-<8 hex>``, sortable by creation time."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() if now is None else now))
    return check_job_id(f"{prefix}-{stamp}-{secrets.token_hex(4)}")


def check_user_name(user: object) -> str:
    """Return ``user`` if it is a valid user name, else raise ``InvalidUserName`` saying why."""
    if not isinstance(user, str) or not user:
        raise InvalidUserName(user, "must be a non-empty string")
    if len(user) > MAX_NAME:
        raise InvalidUserName(user, f"longer than {MAX_NAME} characters ({len(user)})")
    if user in (".", "..") or user == "zookeeper":
        raise InvalidUserName(user, "is reserved")
    if "/" in user:
        raise InvalidUserName(user, "must not contain '/'")
    if any(unicodedata.category(ch)[0] in ("C", "Z") for ch in user):
        raise InvalidUserName(user, "must not contain control characters or white space")
    return user
