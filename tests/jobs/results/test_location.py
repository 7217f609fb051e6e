"""jobs.results.location through the real results writer, in a local folder and on the moto S3 server: a
re-run replaces only sparkeo's own files, a location holding anything else is refused untouched."""
from __future__ import annotations

import json

import pytest

from jobs.results.location import ResultsLocation, ResultsLocationError
from sparkeo import storage
from tests.system.test_s3_results import write_results
from tests.sparkeo.test_storage import root  # noqa: F401  (a local folder, or a prefix on the moto server)

FOREIGN = {"notes.txt": b"my own notes", "photos/cat.jpg": b"\xff\xd8 a cat"}


def put(output: str, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        storage.write_bytes(storage.join(output, name), body)


def contents(output: str) -> dict[str, bytes]:
    """Every file below ``output`` by its relative name."""
    base = len(output.rstrip("/")) + 1
    return {o.uri[base:]: storage.read_bytes(o.uri) for o in storage.list_prefix(output)}


def test_a_location_holding_foreign_files_is_refused_and_left_alone(root):
    output = storage.join(root, "my-documents")
    put(output, FOREIGN)
    with pytest.raises(ResultsLocationError) as err:
        write_results(output, ("2021-06-01",))
    assert err.value.exit_code == 2 and output in str(err.value) and "notes.txt" in str(err.value)
    assert contents(output) == FOREIGN


def test_a_rerun_replaces_only_sparkeos_own_files(root):
    output = storage.join(root, "job")
    write_results(output, ("2021-06-01", "2021-06-11", "2021-06-21"), job_id="first")
    put(output, FOREIGN)
    write_results(output, ("2021-07-01",), job_id="second")
    after = contents(output)
    assert sorted(after) == ["2021-07-01.json", "2021-07-01.tif", "collection.json", "job_metadata.json",
                             "notes.txt", "photos/cat.jpg"]
    assert {n: after[n] for n in FOREIGN} == FOREIGN
    assert json.loads(after["collection.json"])["id"] == "second"


def test_a_new_file_named_like_a_foreign_one_is_refused_before_anything_changes(root):
    output = storage.join(root, "job")
    write_results(output, ("2021-06-01",), job_id="first")
    put(output, {"2021-07-01.tif": b"someone else's raster"})
    before = contents(output)
    with pytest.raises(ResultsLocationError) as err:
        write_results(output, ("2021-07-01",), job_id="second")
    assert "2021-07-01.tif" in str(err.value) and "did not write" in str(err.value)
    assert contents(output) == before


def test_a_foreign_stac_collection_owns_nothing(tmp_path):
    """Someone's own static STAC collection is not a sparkeo results document: its assets are not ours."""
    output = str(tmp_path / "catalog")
    doc = {"type": "Collection", "stac_version": "1.1.0", "id": "mine", "links": [],
           "assets": {"data": {"href": "./data.tif"}}}
    put(output, {"collection.json": json.dumps(doc).encode(), "data.tif": b"their raster"})
    location = ResultsLocation.inspect(output)
    assert location.previous_job is None and location.owned == frozenset()
    with pytest.raises(ResultsLocationError, match="holds no sparkeo results"):
        location.check_writable(["result.tif", "collection.json"])


def test_only_files_inside_the_location_are_owned(tmp_path):
    """A results document naming files elsewhere (edited, or hostile) gives no right to delete them."""
    output = tmp_path / "job"
    write_results(str(output), ("2021-06-01",), job_id="first")
    (tmp_path / "victim.txt").write_text("outside the results")
    doc = json.loads((output / "collection.json").read_text())
    doc["assets"]["evil"] = {"href": "../victim.txt"}
    doc["links"].append({"rel": "item", "href": str(tmp_path / "victim.txt")})
    (output / "collection.json").write_text(json.dumps(doc))
    assert all(not n.startswith("..") and "victim" not in n for n in ResultsLocation.inspect(str(output)).owned)
    write_results(str(output), ("2021-07-01",), job_id="second")
    assert (tmp_path / "victim.txt").read_text() == "outside the results"


def test_an_s3_folder_marker_is_no_foreign_file(s3):
    """Consoles create ``prefix/`` as an empty object to show a folder: it does not make the prefix foreign."""
    s3.server.client().put_object(Bucket=s3.name, Key="team/job/", Body=b"")
    write_results(s3.uri("team/job"), ("2021-06-01",))
    assert "team/job/collection.json" in s3.objects("team/job/")
