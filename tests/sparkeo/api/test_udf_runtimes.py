"""``/udf_runtimes`` publishes the runtime ``run_udf`` uses, only when the server runs UDFs."""
from __future__ import annotations

import platform
from types import SimpleNamespace

from jobs.processes.udfruntime import python_runtime
from sparkeo.api.routes import udf_runtimes
from sparkeo.settings import Settings


def published(settings: Settings) -> dict:
    return udf_runtimes(None, SimpleNamespace(settings=settings), None)


def test_local_mode_publishes_no_runtime_unless_udfs_are_allowed():
    assert published(Settings().for_web_api(local=True, allow_udf=False)) == {}
    allowed = published(Settings().for_web_api(local=True, allow_udf=True))
    assert allowed == python_runtime().to_json()
    (runtime,) = allowed.values()
    assert platform.python_version() in runtime["versions"] and runtime["type"] == "language"
    assert {"numpy", "xarray"} <= set(runtime["versions"][platform.python_version()]["libraries"])


def test_cluster_mode_publishes_the_runtime_of_the_executor_image():
    assert published(Settings().for_web_api(local=False, allow_udf=False)) == python_runtime().to_json()
