"""StacIndex: one walk, reuse from the cache folder, rebuild when the catalog changes."""
from __future__ import annotations

import datetime as dt
import json
import os

from layercatalog import stacwalk
from layercatalog.index import FORMAT_VERSION, StacIndex, index_path
from tests.fixtures.catalogs import stac_item, write_static_catalog

UTC = dt.timezone.utc


def day(n: int) -> dt.datetime:
    return dt.datetime(2023, 1, 1, 12, tzinfo=UTC) + dt.timedelta(days=n - 1)


def make_catalog(root, n=5):
    items = [stac_item(f"i{k}", day(k + 1), (k, 0, k + 1, 1), "c") for k in range(n)]
    return write_static_catalog(root, {"c": items})


def test_second_open_reuses_the_index(tmp_path, monkeypatch):
    url = make_catalog(tmp_path / "stac")
    cache = str(tmp_path / "cache")
    first = StacIndex.open(url, cache)
    assert first.built and first.count() == 5
    path = index_path(cache, url)
    assert path.parent == tmp_path / "cache" / "stac-index"
    assert not any(p.suffix == ".sqlite" for p in (tmp_path / "stac").rglob("*"))   # nothing next to the catalog
    mtime = path.stat().st_mtime_ns
    walks = []
    real_walk = stacwalk.walk
    monkeypatch.setattr(stacwalk, "walk", lambda *a: walks.append(a) or real_walk(*a))
    second = StacIndex.open(url, cache)
    assert not second.built and walks == [] and path.stat().st_mtime_ns == mtime
    assert [r["id"] for r in second.search("c", None, None, None)] == [f"i{k}" for k in range(5)]


def test_rebuilt_after_the_catalog_changes(tmp_path):
    root = tmp_path / "stac"
    url = make_catalog(root, n=3)
    cache = str(tmp_path / "cache")
    assert StacIndex.open(url, cache).count() == 3
    # Add an item: the collection document changes (size), so the index is rebuilt.
    make_catalog(root, n=4)
    again = StacIndex.open(url, cache)
    assert again.built and again.count() == 4
    assert not StacIndex.open(url, cache).built


def test_stale_format_version_rebuilds(tmp_path, monkeypatch):
    url = make_catalog(tmp_path / "stac")
    cache = str(tmp_path / "cache")
    StacIndex.open(url, cache)
    import layercatalog.index as index_module

    monkeypatch.setattr(index_module, "FORMAT_VERSION", FORMAT_VERSION + 1)
    assert StacIndex.open(url, cache).built


def test_nested_catalogs_and_item_times(tmp_path):
    """catalog -> sub-catalog -> collection -> items; start_datetime when datetime is null."""
    root = tmp_path / "stac"
    sub = root / "sub"
    write_static_catalog(sub, {"c": [stac_item("a", day(2), (0, 0, 1, 1), "c")]})
    ranged = stac_item("b", day(1), (0, 0, 1, 1), "c")
    ranged["properties"].update(datetime=None, start_datetime="2023-01-05T00:00:00Z", end_datetime="2023-01-06T00:00:00Z")
    timeless = stac_item("x", day(1), (0, 0, 1, 1), "c")
    timeless["properties"]["datetime"] = None
    coll_path = sub / "c" / "collection.json"
    coll = json.loads(coll_path.read_text())
    for it in (ranged, timeless):
        (sub / "c" / it["id"]).mkdir()
        (sub / "c" / it["id"] / "item.json").write_text(json.dumps(it))
        coll["links"].append({"rel": "item", "href": f"./{it['id']}/item.json"})
    coll_path.write_text(json.dumps(coll))
    (root / "catalog.json").write_text(json.dumps({"type": "Catalog", "id": "top", "description": "",
                                                   "links": [{"rel": "child", "href": "./sub/catalog.json"}]}))
    index = StacIndex.open(str(root / "catalog.json"), str(tmp_path / "cache"))
    found = list(index.search(None, (0.2, 0.2, 0.4, 0.4), None, None))
    assert [r["id"] for r in found] == ["a", "b"]            # x has no time: skipped
    assert found[1]["datetime"].startswith("2023-01-05")
    assert index.item_collections() == ["c"] and "c" in index.collections()


def test_bbox_and_time_search_match_a_brute_force_scan(tmp_path):
    """The R*Tree + time index answer equals a scan of every item."""
    import random

    rnd = random.Random(3)
    items = []
    for k in range(300):
        x, y = rnd.uniform(-10, 10), rnd.uniform(40, 50)
        items.append(stac_item(f"r{k:03d}", day(1) + dt.timedelta(hours=rnd.randint(0, 24 * 60)),
                               (x, y, x + 0.5, y + 0.5), "c"))
    url = write_static_catalog(tmp_path / "stac", {"c": items})
    index = StacIndex.open(url, str(tmp_path / "cache"))
    box, start, end = (-2, 43, 3, 46), day(10), day(40)
    got = [r["id"] for r in index.search("c", box, start, end)]

    def when(i):
        return dt.datetime.fromisoformat(i["properties"]["datetime"].replace("Z", "+00:00"))

    expected = sorted(
        (when(i), i["id"]) for i in items
        if i["bbox"][0] <= box[2] and i["bbox"][2] >= box[0] and i["bbox"][1] <= box[3] and i["bbox"][3] >= box[1]
        and start <= when(i) < end)
    assert got == [e[1] for e in expected] and len(got) > 5


def test_half_built_index_never_visible(tmp_path, monkeypatch):
    url = make_catalog(tmp_path / "stac")
    cache = tmp_path / "cache"
    coll = json.loads((tmp_path / "stac" / "c" / "collection.json").read_text())
    coll["links"].append({"rel": "item", "href": "./missing.json"})
    (tmp_path / "stac" / "c" / "collection.json").write_text(json.dumps(coll))
    try:
        StacIndex.open(url, str(cache))
    except Exception as exc:   # the walk fails on the missing item ...
        assert "missing.json" in str(exc)
    else:
        raise AssertionError("expected the missing item to fail the build")
    leftovers = [p for p in (cache / "stac-index").iterdir()] if (cache / "stac-index").exists() else []
    assert leftovers == []     # ... and leaves no index (or temp file) behind
    assert os.listdir(tmp_path / "stac")


def test_collection_json_as_the_root(tmp_path):
    url = make_catalog(tmp_path / "stac", n=3)
    index = StacIndex.open(str(tmp_path / "stac" / "c" / "collection.json"), str(tmp_path / "cache"))
    assert index.count() == 3 and index.item_collections() == ["c"]
    assert index_path(str(tmp_path / "cache"), url) != index.path       # one index per root URL
