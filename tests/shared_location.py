"""Where the shared specs and data live: ``shared/`` beside the checkout.

A clone made elsewhere (``git clone . "$(mktemp -d)/c"``, as CI's instructions do) has no
``../shared``; it is then looked for beside the repository the clone came from (a local
``origin``), so the same checkout runs its tests wherever it was cloned to.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def _origin_checkout() -> Path | None:
    """The local directory this checkout was cloned from, if ``origin`` is a path."""
    try:
        url = subprocess.run(["git", "-C", str(CHECKOUT), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url[len("file://"):] if url.startswith("file://") else url)
    return path.resolve() if url and path.is_dir() else None


def shared_root() -> Path:
    """``shared/`` beside this checkout, else beside its local origin (may not exist: callers check)."""
    beside = (CHECKOUT.parent / "shared").resolve()
    if beside.is_dir():
        return beside
    origin = _origin_checkout()
    if origin is not None and (origin.parent / "shared").is_dir():
        return (origin.parent / "shared").resolve()
    return beside


SHARED = shared_root()
