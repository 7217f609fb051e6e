"""Structured, quiet-by-default logging: ``key=value`` fields (job_id, tile, item, href, node)."""
from __future__ import annotations

import logging
import sys

FIELDS = ("job_id", "node", "tile", "item", "href", "collection", "user")


class KeyValueFormatter(logging.Formatter):
    """``LEVEL logger: message key=value ...`` with the structured fields a record carries."""

    def format(self, record: logging.LogRecord) -> str:
        base = f"{record.levelname} {record.name}: {record.getMessage()}"
        extras = [f"{k}={getattr(record, k)}" for k in FIELDS if getattr(record, k, None) is not None]
        text = " ".join([base, *extras])
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure(verbosity: int = 0) -> None:
    """0: warnings only (quiet default), 1: info, 2+: debug. Spark/py4j stay at warning."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("py4j", "botocore", "urllib3", "rasterio", "kazoo", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
