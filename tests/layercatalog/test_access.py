"""Access groups fail closed: a malformed ``_sparkeo.access`` block hides the collection from everyone
and is told, naming the entry, only to callers in a group the block names."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from layercatalog.access import parse_access
from layercatalog.catalog import LayerCatalog
from layercatalog.errors import InvalidCatalogError, UnknownCollectionError
from sparkeo.cli.main import cli
from sparkeo.identity import Caller
from tests.fixtures.catalogs import layer_entry, write_layer_catalog

MALFORMED = {
    "groups-a-string": {"groups": "team-secret"},
    "access-a-list": ["team-secret"],
    "non-string-member": {"groups": ["team-secret", 7]},
    "empty-member": {"groups": ["team-secret", ""]},
    "no-groups-key": {"group": ["team-secret"]},
    "groups-an-object": {"groups": {"team-secret": True}},
}
# Under the old reading, "team-secret" split into characters let any of these groups in.
SPLIT_CHARACTERS = ["t", "e", "a", "m", "-", "s", "c", "r"]


@pytest.mark.parametrize("block", MALFORMED.values(), ids=list(MALFORMED))
def test_malformed_blocks_admit_nobody(block):
    access = parse_access(block)
    assert access.problem and "hidden from everyone" in access.problem
    for groups in ([], SPLIT_CHARACTERS, ["team-secret"], ["team-secret", "7"]):
        assert not access.admits(Caller("u", frozenset(groups)))


@pytest.mark.parametrize("block,groups", [(None, ()), ({"groups": []}, ()), ({"groups": ["a", " b "]}, ("a", "b"))],
                         ids=["absent", "empty-list", "list"])
def test_well_formed_blocks(block, groups):
    access = parse_access(block)
    assert access.problem is None and access.groups == groups


@pytest.fixture
def catalog(tmp_path):
    entries = [layer_entry("public", "x/catalog.json")]
    for name, block in MALFORMED.items():
        entry = layer_entry(name, "x/catalog.json")
        entry["_sparkeo"]["access"] = block
        entries.append(entry)
    unsupported = {"id": "legacy", "_sparkeo": {"data_source": {"type": "file-s2"}, "access": {"groups": "team-secret"}}}
    return write_layer_catalog(tmp_path / "layercatalog.json", [*entries, unsupported])


def test_catalog_hides_malformed_entries_from_everyone(catalog):
    cat = LayerCatalog.load(catalog)
    for groups in ([], SPLIT_CHARACTERS, ["team-secret"]):
        caller = Caller("u", frozenset(groups))
        assert [c.id for c in cat.collections(caller)] == ["public"]
        assert cat.unsupported_for(caller) == []
    outsider = Caller("u", frozenset(SPLIT_CHARACTERS))
    with pytest.raises(UnknownCollectionError) as hidden:
        cat.get("groups-a-string", outsider)
    with pytest.raises(UnknownCollectionError) as unknown:
        cat.get("nope", outsider)
    assert str(hidden.value).replace("groups-a-string", "X") == str(unknown.value).replace("nope", "X")
    assert cat.access_problems(outsider) == []
    insider = Caller("u", frozenset(["team-secret"]))
    with pytest.raises(InvalidCatalogError, match="entry 'groups-a-string'.*must be a list"):
        cat.get("groups-a-string", insider)
    # blocks that name no group under 'groups' are told to nobody (the operator sees them in the -v log)
    assert {p.entry for p in cat.access_problems(insider)} == {
        "groups-a-string", "access-a-list", "non-string-member", "empty-member", "legacy"}


def test_catalog_list_reports_to_insiders_only(catalog):
    outsider = CliRunner().invoke(cli, ["--groups", "t,e,a,m", "catalog", "list", "--catalog", catalog])
    assert outsider.exit_code == 0 and outsider.stdout.splitlines() == ["public\tpublic\t2 bands"]
    assert outsider.stderr == "" and "groups-a-string" not in outsider.output
    insider = CliRunner().invoke(cli, ["--groups", "team-secret", "catalog", "list", "--catalog", catalog])
    assert insider.exit_code == 2 and insider.stdout.splitlines()[0].startswith("public")
    assert "Traceback" not in insider.output and "entry 'groups-a-string'" in insider.stderr
    assert all(line.startswith("Error: invalid catalog ") for line in insider.stderr.splitlines())
