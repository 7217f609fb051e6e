"""The openEO specifications shipped with the implemented processes (``jobs.processes.specdocs``): copies
equal to the upstream files of the version each process follows, package data of the installed
package, and served with sparkeo's differences stated."""
from __future__ import annotations

import json
from pathlib import Path

from setuptools.config.setupcfg import read_configuration

import jobs.processes
from jobs.processes.listing import LATER, PROPOSAL, STABLE, ProcessInfo, implemented
from jobs.processes.specdocs import SPECS_FOLDER, described, upstream
from tests.shared_location import CHECKOUT, SHARED

SPEC = SHARED / "spec" / "openeo-processes"
SHIPPED = Path(jobs.processes.__file__).parent / SPECS_FOLDER


def upstream_file(info: ProcessInfo) -> Path:
    """The upstream file of the version ``info`` follows (a 2.0.0-rc.2 process: stable or proposal)."""
    candidates = {STABLE: [SPEC / "v1.2.0" / f"{info.id}.json"],
                  PROPOSAL: [SPEC / "v1.2.0" / "proposals" / f"{info.id}.json"],
                  LATER: [SPEC / f"{info.id}.json", SPEC / "proposals" / f"{info.id}.json"]}[info.spec]
    found = [p for p in candidates if p.is_file()]
    assert found, f"{info.id}: no upstream {info.spec} file among {candidates}"
    return found[0]


def test_the_shipped_specifications_are_the_upstream_files_of_the_implemented_processes():
    infos = implemented()
    for info in infos:
        source = upstream_file(info)
        assert (SHIPPED / f"{info.id}.json").read_bytes() == source.read_bytes(), \
            f"jobs/processes/specs/{info.id}.json differs from {source}: copy it over"
    assert {p.stem for p in SHIPPED.glob("*.json")} == {i.id for i in infos}     # none left of a removed process


def test_the_specifications_are_package_data():
    package_data = read_configuration(CHECKOUT / "setup.cfg")["options"]["package_data"]["jobs.processes"]
    packaged = {p for pattern in package_data for p in SHIPPED.parent.glob(pattern)}
    assert set(SHIPPED.glob("*.json")) <= packaged and SHIPPED / "SOURCE.md" in packaged


def test_a_process_is_served_with_its_upstream_parameters_returns_and_links():
    info = next(i for i in implemented() if i.id == "ndvi")
    spec = json.loads((SPEC / "v1.2.0" / "ndvi.json").read_text())
    doc = described(info)
    assert doc["parameters"] == spec["parameters"]       # names, descriptions, schemas, optional flags
    assert doc["parameters"][0]["schema"] == {"type": "object", "subtype": "raster-cube"}
    for key in ("summary", "categories", "returns", "exceptions", "links"):
        assert doc[key] == spec[key], key
    assert doc["description"].startswith(spec["description"])
    assert doc["description"].endswith("**sparkeo** follows openEO processes 1.2.0.")
    assert upstream("ndvi") == spec and upstream("no_such_process") is None


def test_the_differences_from_the_specification_are_stated_not_dropped():
    spec = json.loads((SPEC / "v1.2.0" / "ndvi.json").read_text())
    # a reader of ndvi without target_band, with a parameter of its own, and nir required
    info = ProcessInfo("ndvi", "NDVI", STABLE, (("data", True), ("nir", True), ("red", False), ("scale", False)))
    doc = described(info)
    params = {p["name"]: p for p in doc["parameters"]}
    assert [p["name"] for p in doc["parameters"]] == [p["name"] for p in spec["parameters"]] + ["scale"]
    assert params["target_band"]["description"].startswith("**Not supported by sparkeo**")
    assert params["target_band"]["schema"] == spec["parameters"][3]["schema"]
    assert "optional" not in params["nir"] and "default" not in params["nir"]
    assert params["red"]["optional"] is True and params["scale"] == {
        "name": "scale", "description": "sparkeo extension: a parameter openEO processes 1.2.0 does not define "
                                        "for `ndvi`.", "schema": {}, "optional": True}
    note = doc["description"].rsplit("\n\n", 1)[1]
    for expected in ("parameter `target_band`", "`nir` is required", "adds the parameter `scale`"):
        assert expected in note, expected


def test_the_real_differences_of_load_collection_and_array_append():
    infos = {i.id: i for i in implemented()}
    load = {p["name"]: p for p in described(infos["load_collection"])["parameters"]}
    assert load["spatial_extent"]["optional"] is True and load["temporal_extent"]["optional"] is True
    assert load["spatial_extent"]["schema"] == upstream("load_collection")["parameters"][1]["schema"]
    append = described(infos["array_append"])
    assert [p["name"] for p in append["parameters"]] == ["data", "value", "label"]
    assert append["experimental"] is True and "adds the parameter `label`" in append["description"]
