"""The UDF runtime: Python in this interpreter's version, its libraries, PEP 723 dependencies."""
from __future__ import annotations

import platform

import pytest

from jobs.errors import ProcessError
from jobs.processes.udfruntime import check_dependencies, check_runtime, python_runtime


def test_python_runtime_lists_version_and_the_libraries_udfs_import():
    runtime = python_runtime()
    assert runtime.version == platform.python_version()
    names = dict(runtime.libraries)
    assert {"numpy", "xarray", "pandas", "scipy", "openeo"} <= set(names)
    doc = runtime.to_json()["Python"]
    assert doc["type"] == "language" and doc["default"] == runtime.version
    assert doc["versions"][runtime.version]["libraries"]["scipy"]["version"] == names["scipy"]


@pytest.mark.parametrize("version", [None, "3", platform.python_version()[:4], platform.python_version()])
def test_runtime_python_in_this_version_is_accepted(version):
    check_runtime("Python", version)
    check_runtime("python", version)


@pytest.mark.parametrize("runtime, version, code", [("R", None, "InvalidRuntime"), ("Python", "2.7", "InvalidVersion"),
                                                    ("Python", "3.99", "InvalidVersion")])
def test_other_runtimes_and_versions_are_refused(runtime, version, code):
    with pytest.raises(ProcessError) as e:
        check_runtime(runtime, version)
    assert e.value.code == code
    assert platform.python_version() in str(e.value) or "only 'Python'" in str(e.value)


def _declaring(*deps: str) -> str:
    listed = "".join(f'#   "{d}",\n' for d in deps)
    return f"# /// script\n# dependencies = [\n{listed}# ]\n# ///\nimport numpy\n"


def test_installed_dependencies_are_fine():
    assert check_dependencies(_declaring("numpy", "scipy>=1.0", "xarray")) == ("numpy", "scipy>=1.0", "xarray")
    assert check_dependencies("import numpy\n") == ()


@pytest.mark.parametrize("dep, named", [("geojson-not-installed-here", "'geojson-not-installed-here'"),
                                        ("numpy<1", "'numpy<1'")])
def test_a_missing_dependency_is_a_user_error_naming_the_package(dep, named):
    with pytest.raises(ProcessError) as e:
        check_dependencies(_declaring("numpy", dep))
    assert e.value.code == "MissingDependency" and named in str(e.value)
