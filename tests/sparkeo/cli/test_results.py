"""``sparkeo results``: list a job's assets with sizes and download them (local folder and S3)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pystac
import pytest
from click.testing import CliRunner

from sparkeo import storage
from sparkeo.cli.main import cli
from tests.stac_schemas import assert_valid_stac
from tests.system.test_s3_results import write_results

LABELS = ("2021-06-01", "2021-06-11")


def invoke(*args):
    return CliRunner().invoke(cli, ["results", *args], catch_exceptions=False)


@pytest.fixture(params=["local", "s3"])
def results_location(request, tmp_path) -> str:
    output = str(tmp_path / "out") if request.param == "local" else request.getfixturevalue("s3").uri("jobs/r1")
    write_results(output, LABELS, seed=9)
    return output


def test_lists_assets_with_sizes(results_location):
    result = invoke(results_location)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "s3-job" in lines[0] and "finished" in lines[0]
    sizes = {o.uri: o.size for o in storage.list_prefix(results_location)}
    for label, line in zip(LABELS, lines[1:3]):
        uri = storage.join(results_location, f"{label}.tif")
        key, *_, href = line.split()
        assert key == label and href == uri
    total = sum(sizes[storage.join(results_location, f"{label}.tif")] for label in LABELS)
    assert lines[-1].endswith(f"({total} bytes)") and lines[-1].startswith("2 asset(s)")


def test_json_and_download_check_sizes_and_checksums(results_location, tmp_path):
    target = tmp_path / "download"
    result = invoke(results_location, "--download", str(target), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["collection"] == storage.join(results_location, "collection.json")
    assert [a["key"] for a in out["assets"]] == list(LABELS)
    for asset in out["assets"]:
        remote = storage.read_bytes(asset["href"])
        local = (target / f"{asset['key']}.tif").read_bytes()
        assert local == remote and asset["size"] == len(remote)
        assert asset["checksum"] == "1220" + hashlib.sha256(remote).hexdigest()
    assert sorted(p.name for p in target.iterdir()) == sorted([*(f"{label}.tif" for label in LABELS),
                                                              *(f"{label}.json" for label in LABELS),
                                                              "job_metadata.json", "collection.json"])
    assert out["total_size"] == sum(a["size"] for a in out["assets"])


def test_download_is_a_self_contained_stac_collection(results_location, tmp_path):
    target = tmp_path / "download"
    assert invoke(results_location, "--download", str(target)).exit_code == 0
    for path in target.glob("*.json"):
        text = path.read_text()
        assert "s3://" not in text and results_location not in text, path.name
        if path.name != "job_metadata.json":
            assert_valid_stac(json.loads(text), path.name)
    # pystac walks it: collection -> items -> assets, all inside the download
    collection = pystac.Collection.from_file(str(target / "collection.json"))
    items = sorted(collection.get_items(), key=lambda i: i.id)
    assert [i.id for i in items] == [f"s3-job_{label}" for label in LABELS]
    for item, label in zip(items, LABELS):
        assert item.assets["data"].get_absolute_href() == str(target / f"{label}.tif")
    metadata = next(link for link in collection.links if link.rel == "related")
    assert json.loads(Path(metadata.get_absolute_href()).read_text())["job_id"] == "s3-job"
    # ... and so does sparkeo: the download is itself a results location, checksums and all
    again = invoke(str(target), "--download", str(tmp_path / "again"), "--json")
    assert again.exit_code == 0, again.output
    assert [a["href"] for a in json.loads(again.output)["assets"]] == [str(target / f"{label}.tif") for label in LABELS]


def handmade_results(root: Path, hrefs: dict[str, str]) -> Path:
    """A results folder written by hand: a collection whose assets (key -> href) hold distinct bytes."""
    assets = {}
    for key, href in hrefs.items():
        path = (root / href).resolve()
        if root.resolve() in path.parents:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(key.encode() * 10)
        data = key.encode() * 10
        assets[key] = {"href": href, "roles": ["data"], "file:size": len(data),
                       "file:checksum": "1220" + hashlib.sha256(data).hexdigest()}
    root.mkdir(parents=True, exist_ok=True)
    (root / "collection.json").write_text(json.dumps({"type": "Collection", "id": "hand", "links": [],
                                                      "assets": assets}))
    return root


def test_assets_with_the_same_file_name_keep_their_folders(tmp_path):
    src = handmade_results(tmp_path / "res", {"red": "./red/data.tif", "nir": "./nir/data.tif"})
    result = invoke(str(src), "--download", str(tmp_path / "d"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "red" / "data.tif").read_bytes() == b"red" * 10
    assert (tmp_path / "d" / "nir" / "data.tif").read_bytes() == b"nir" * 10
    doc = json.loads((tmp_path / "d" / "collection.json").read_text())
    assert {k: a["href"] for k, a in doc["assets"].items()} == {"red": "./red/data.tif", "nir": "./nir/data.tif"}


@pytest.mark.parametrize("href,reason", [("../outside.tif", "outside the results location"),
                                         ("./sub/../../outside.tif", "outside the results location"),
                                         ("/etc/hostname", "outside the results location"),
                                         ("./collection.json", "share this path")],
                         ids=["parent", "dotdot-inside", "absolute", "the-document"])
def test_an_asset_that_would_leave_dir_or_hit_a_document_is_refused(tmp_path, href, reason):
    src = handmade_results(tmp_path / "res", {"ok": "./ok.tif", "bad": href})
    target = tmp_path / "d"
    result = CliRunner().invoke(cli, ["results", str(src), "--download", str(target)])
    assert result.exit_code == 2, result.output
    assert reason in result.output and repr(href) in result.output and "Traceback" not in result.output
    assert not target.exists()                   # refused before anything was written


def test_location_may_name_the_document_itself(results_location):
    result = invoke(storage.join(results_location, "collection.json"), "--json")
    assert result.exit_code == 0, result.output
    assert [a["href"] for a in json.loads(result.output)["assets"]] == [
        storage.join(results_location, f"{label}.tif") for label in LABELS]


def test_location_without_results_document_is_exit_2(s3):
    storage.write_bytes(s3.uri("jobs/partial/2021-06-01.tif"), b"half an upload")
    result = CliRunner().invoke(cli, ["results", s3.uri("jobs/partial")])
    assert result.exit_code == 2
    assert f"no results at '{s3.uri('jobs/partial')}'" in result.output and "not finished" in result.output


def test_tampered_asset_fails_the_download_with_exit_1(s3, tmp_path):
    output = s3.uri("jobs/tampered")
    write_results(output, LABELS[:1], seed=10)
    storage.write_bytes(f"{output}/{LABELS[0]}.tif", b"x" * storage.stat(f"{output}/{LABELS[0]}.tif").size)
    result = CliRunner().invoke(cli, ["results", output, "--download", str(tmp_path / "d")])
    assert result.exit_code == 1
    assert f"{output}/{LABELS[0]}.tif: checksum mismatch" in result.output
