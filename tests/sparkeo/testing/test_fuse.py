"""``sparkeo.testing.fuse`` raises, never calls pytest: bench/ mounts with it too."""
from __future__ import annotations

import pytest

from sparkeo.testing.fuse import mount_bucket
from sparkeo.testing.services import ServiceStartError


def test_mounting_without_s3fs_raises_a_service_error_naming_it(moto_server, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no s3fs on it
    with pytest.raises(ServiceStartError, match="s3fs is not installed|/dev/fuse does not exist"):
        mount_bucket(moto_server.create_bucket(), tmp_path / "mnt", tmp_path)
