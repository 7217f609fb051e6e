"""A real S3 server: ``moto`` in server mode as its own process on a free loopback port, with the
fake credentials that go with it, and its buckets.
"""
from __future__ import annotations

import os
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sparkeo.testing.services import free_port, port_answers, running_service

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint and the fake credentials that go with it."""

    endpoint: str
    port: int

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """The standard AWS variables for this server (or for a proxy ``endpoint`` in front of it)."""
        return {
            "AWS_ENDPOINT_URL": endpoint or self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self):
        """A boto3 client talking to the server directly (test set-up, never through a proxy)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str | None = None) -> "S3Bucket":
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return S3Bucket(self, name)


@dataclass(frozen=True)
class S3Bucket:
    """One bucket on the test server."""

    server: S3Server
    name: str

    def uri(self, key: str = "") -> str:
        return f"s3://{self.name}/{key.lstrip('/')}"

    def upload_tree(self, local_dir: str | Path, prefix: str) -> list[str]:
        """Upload every file below ``local_dir`` to ``prefix``; returns the keys, sorted."""
        client, root, keys = self.server.client(), Path(local_dir), []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = f"{prefix.strip('/')}/{path.relative_to(root).as_posix()}"
            client.upload_file(str(path), self.name, key)
            keys.append(key)
        return keys

    def objects(self, prefix: str = "") -> dict[str, dict]:
        """``key -> {"Size", "LastModified", ...}`` for every object below ``prefix``."""
        pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return {o["Key"]: o for page in pages for o in page.get("Contents", [])}


@contextmanager
def running_moto(log: Path) -> Iterator[S3Server]:
    """``python -m moto.server`` on a free loopback port for the length of a ``with`` block (its output
    appended to ``log``)."""
    port = free_port()
    with running_service([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log,
                         f"moto server on port {port}", lambda: port_answers(port),
                         env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}):
        yield S3Server(endpoint=f"http://127.0.0.1:{port}", port=port)
