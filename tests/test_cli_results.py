"""``sparkeo results``: list a job's assets with sizes and download them (local folder and S3)."""
from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner

from sparkeo import storage
from sparkeo.cli.main import cli
from tests.test_s3_results import write_results

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
                                                              "collection.json"])
    assert out["total_size"] == sum(a["size"] for a in out["assets"])


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
