"""The UDF runtimes sparkeo offers: what ``sparkeo udf-runtimes`` lists and the web API's ``/udf_runtimes``.

One runtime, ``Python``, in one version: the Python that runs the job (a UDF runs in the same
interpreter as the tiles, so no other version can be honoured). Its libraries are the packages a UDF
may import, with the versions installed here; ``numpy``, ``xarray``, ``pandas``, ``scipy`` and
``openeo`` (whose ``openeo.udf`` API a UDF is written against) are runtime dependencies of sparkeo.

A UDF may declare what it needs in PEP 723 inline metadata (``# /// script`` ... ``dependencies``),
as openEO back-ends accept; sparkeo installs nothing at run time: a declared package that is
installed (in a version the specifier allows) is fine, any other is refused before the job starts.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata

from jobs.errors import ProcessError

RUNTIME = "Python"
# the distributions a UDF may import (their import names where they differ: "scikit-image" is skimage)
LIBRARIES = ("numpy", "xarray", "pandas", "scipy", "openeo", "shapely", "pyproj", "rasterio", "netCDF4")


@dataclass(frozen=True)
class Runtime:
    """One UDF runtime: its name, the version of the interpreter, and the libraries with versions."""

    name: str
    version: str
    libraries: tuple[tuple[str, str], ...]

    def to_json(self) -> dict:
        """The openEO API's ``/udf_runtimes`` entry (``type: language``, one version, its libraries)."""
        return {self.name: {
            "title": f"{self.name} {self.version}",
            "description": "openEO Python UDFs (openeo.udf: apply_datacube, apply_timeseries, apply_udf_data)",
            "type": "language",
            "default": self.version,
            "versions": {self.version: {"libraries": {name: {"version": v} for name, v in self.libraries}}},
        }}


def python_runtime() -> Runtime:
    """The Python runtime of this interpreter, with every listed library that is installed."""
    libraries = []
    for name in LIBRARIES:
        try:
            libraries.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return Runtime(RUNTIME, platform.python_version(), tuple(libraries))


def check_runtime(runtime: str, version: str | None) -> None:
    """Refuse a runtime other than Python, or a version this interpreter is not (``3``, ``3.11`` and
    ``3.11.4`` all match Python 3.11.4: a version names a prefix of the interpreter's)."""
    if not isinstance(runtime, str) or runtime.lower() != RUNTIME.lower():
        raise ProcessError("InvalidRuntime", f"UDF runtime {runtime!r} is not available: only {RUNTIME!r} is")
    if version is None:
        return
    have = platform.python_version().split(".")
    asked = str(version).split(".")
    if asked != have[:len(asked)]:
        raise ProcessError("InvalidVersion", f"UDF runtime version {version!r} is not available: "
                                             f"this back-end runs Python {platform.python_version()}")


def check_dependencies(code: str) -> tuple[str, ...]:
    """The PEP 723 dependencies ``code`` declares, each checked installed in a version it allows.

    Raises ``ProcessError`` naming the first missing package (or the malformed metadata block).
    """
    from openeo.udf.run_code import extract_udf_dependencies
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        declared = extract_udf_dependencies(code) or []
    except Exception as e:          # tomllib's or openeo's error on a malformed block
        raise ProcessError("InvalidDependencies", f"the UDF's inline script metadata is malformed: {e}") from None
    for spec in declared:
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            raise ProcessError("InvalidDependencies", f"the UDF declares an invalid dependency {spec!r}") from None
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            raise ProcessError("MissingDependency", f"the UDF needs package {req.name!r}, which is not installed "
                                                    f"on this back-end (see `sparkeo udf-runtimes`)") from None
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            raise ProcessError("MissingDependency", f"the UDF needs {spec!r}, but {req.name} {installed} is "
                                                    "installed on this back-end")
    return tuple(declared)


