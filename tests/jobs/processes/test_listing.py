"""The implemented-process list behind ``sparkeo processes``: ids, specifications, the CLI output."""
from __future__ import annotations

import json

from click.testing import CliRunner

from jobs.processes.listing import LATER, PROPOSAL, PROPOSALS_1_2, STABLE, STABLE_1_2, implemented
from sparkeo.cli import main as climain
from tests.shared_location import SHARED

SPEC = SHARED / "spec" / "openeo-processes"


def test_id_lists_match_the_1_2_0_specification_folders():
    assert STABLE_1_2 == {p.stem for p in (SPEC / "v1.2.0").glob("*.json")}
    assert PROPOSALS_1_2 == {p.stem for p in (SPEC / "v1.2.0" / "proposals").glob("*.json")}


def test_every_listed_process_has_the_specification_it_claims():
    found = implemented()
    for p in found:
        folder = {STABLE: SPEC / "v1.2.0", PROPOSAL: SPEC / "v1.2.0" / "proposals"}.get(p.spec)
        if folder is None:
            assert p.spec == LATER and any(SPEC.glob(f"**/{p.id}.json")), p.id
        else:
            assert (folder / f"{p.id}.json").is_file(), p.id
        assert p.summary, p.id
    ids = {p.id for p in found}
    assert {"if", "between", "mod", "sin", "array_interpolate_linear", "date_shift", "text_merge", "load_stac"} <= ids


def test_cli_lists_the_processes_as_text_and_json():
    text = CliRunner().invoke(climain.cli, ["processes"])
    assert text.exit_code == 0 and "array_interpolate_linear" in text.output and "1.2.0 proposal" in text.output
    doc = json.loads(CliRunner().invoke(climain.cli, ["processes", "--json"]).output)
    entry = next(p for p in doc["processes"] if p["id"] == "round")
    assert entry["spec"] == "1.2.0" and entry["parameters"] == [{"name": "x", "optional": False},
                                                                {"name": "p", "optional": True}]
    assert len(doc["processes"]) == len(implemented())
