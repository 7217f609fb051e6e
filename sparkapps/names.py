"""Kubernetes label values for jobs: user names become label values, and the selector of a user's jobs.

The job-id and user-name rules live in ``sparkeo.names``, the label keys and sparkeo's selector in
``sparkeo.contracts``; this module only fits values to what a label may hold.
"""
from __future__ import annotations

import hashlib
import re

from sparkeo.contracts import LABEL_USER, SPARKEO_SELECTOR
from sparkeo.names import MAX_NAME

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_BAD_CHARS = re.compile(r"[^-A-Za-z0-9_.]+")


def is_label_value(value: str) -> bool:
    """True when ``value`` is a valid Kubernetes label value as it is."""
    return len(value) <= MAX_NAME and bool(_LABEL_VALUE.match(value))


def label_value(value: str) -> str:
    """``value`` as a valid label value, unchanged when it already is one.

    Invalid characters become ``-``; a changed or shortened value gets a short hash of the original
    appended, so two different users never share a label value (``a@x.org`` vs ``a-x.org``).
    """
    if is_label_value(value):
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]
    body = _LABEL_BAD_CHARS.sub("-", value)
    body = body[: MAX_NAME - len(digest) - 1].strip("-_.")
    return f"{body}-{digest}" if body else digest


def user_selector(user: str | None) -> str:
    """The label selector of sparkeo's SparkApplications, of one user's only when ``user`` is given."""
    return SPARKEO_SELECTOR if user is None else f"{SPARKEO_SELECTOR},{LABEL_USER}={label_value(user)}"
