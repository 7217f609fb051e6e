"""Test configuration: fixtures live in tests/fixtures, one module per service."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared_location import SHARED

pytest_plugins = [
    "tests.fixtures.spark",
    "tests.fixtures.zookeeper",
    "tests.fixtures.s3",
    "tests.fixtures.fuse",
    "tests.fixtures.fault_proxy",
    "tests.fixtures.eodata",
    "tests.fixtures.k8s_api",
    "tests.fixtures.prometheus",
    "tests.fixtures.conformance",
    "tests.fixtures.catalogs",
    "tests.fixtures.realdata",
    "tests.fixtures.stacapi",
    "tests.fixtures.cubes",
    "tests.fixtures.utm_zones",
    "tests.fixtures.api",
    "tests.fixtures.standalone",
]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``shared/`` beside the clone (or its origin): specs and real data (inputs to tests, never copied)."""
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: tests need the shared specs and data")
    return SHARED
