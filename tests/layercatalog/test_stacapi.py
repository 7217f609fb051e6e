"""STAC API collections as layer catalog data sources, against a real stac-fastapi-pgstac (``stac_api``).

The sample catalog is loaded into the API and searched both ways: the API must give the same items,
bands and hrefs as the static catalog's index.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from layercatalog.catalog import LayerCatalog
from layercatalog.errors import StacApiError, UnknownCollectionError
from layercatalog.model import PropertyFilter
from layercatalog.query import make_query
from layercatalog.stacapi import StacApiCollection, cql2_filter, query_extension, split_collection_url
from sparkeo.errors import RunError
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from sparkeo.testing.services import free_port
from tests.fixtures.fault_proxy import FaultPlan

UTC = dt.timezone.utc
SAMPLE = "sample-s2"


@pytest.fixture
def settings(tmp_path):
    return Settings(cache_dir=str(tmp_path / "cache"))


def _view(items):
    return [(i.id, i.datetime, sorted((k, a.href, a.band_index, a.nodata) for k, a in i.assets.items()))
            for i in items]


def test_split_collection_url():
    assert split_collection_url("https://h/stac/collections/s2/") == ("https://h/stac", "s2")
    assert split_collection_url("https://h/stac") == ("https://h/stac", None)


def test_property_filters_as_cql2_and_query():
    filters = (PropertyFilter("eo:cloud_cover", "lte", 50), PropertyFilter("s2:tile", "in", ("33UUP",)),
               PropertyFilter("sun", "between", (10, 20)))
    assert cql2_filter(filters) == {"op": "and", "args": [
        {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 50]},
        {"op": "in", "args": [{"property": "s2:tile"}, ["33UUP"]]},
        {"op": "between", "args": [{"property": "sun"}, 10, 20]}]}
    assert query_extension(filters) == {"eo:cloud_cover": {"lte": 50}, "s2:tile": {"in": ["33UUP"]},
                                        "sun": {"gte": 10, "lte": 20}}


def test_stac_api_search_gives_the_static_catalogs_items(stac_api_catalog, sample_small, settings):
    api, static = LayerCatalog.load(stac_api_catalog, settings), LayerCatalog.load(sample_small, settings)
    query = make_query(SAMPLE, bbox=(-180, -90, 180, 90), bands=["B04", "SCL"],
                       interval=(dt.datetime(2000, 1, 1, tzinfo=UTC), None))
    got, expect = api.search(query, Caller()), static.search(query, Caller())
    assert len(expect) == 8 and _view(got) == _view(expect)
    assert api.get(SAMPLE, Caller()).data_source.url.endswith(f"/collections/{SAMPLE}")


def test_stac_api_interval_is_left_closed(stac_api_catalog, sample_small, settings):
    api, static = LayerCatalog.load(stac_api_catalog, settings), LayerCatalog.load(sample_small, settings)
    everything = static.search(make_query(SAMPLE), Caller())
    start, end = everything[2].datetime, everything[5].datetime     # end is an item's own time: excluded
    query = make_query(SAMPLE, interval=(start, end))
    got = api.search(query, Caller())
    assert [i.id for i in got] == [i.id for i in everything[2:5]] == [i.id for i in static.search(query, Caller())]


def test_stac_api_property_filter_is_sent_as_cql2(stac_api, stac_api_catalog, sample_small, settings):
    static = LayerCatalog.load(sample_small, settings)
    covers = sorted(i.properties["eo:cloud_cover"] for i in static.search(make_query(SAMPLE), Caller()))
    limit = covers[3]
    filters = [PropertyFilter("eo:cloud_cover", "lte", limit)]
    expect = static.search(make_query(SAMPLE, filters=filters), Caller())
    assert 0 < len(expect) < 8
    api = LayerCatalog.load(stac_api_catalog, settings)
    assert _view(api.search(make_query(SAMPLE, filters=filters), Caller())) == _view(expect)
    # the API applied it: its own count is the filtered one
    assert api.matched(make_query(SAMPLE, filters=filters), Caller()) == len(expect)
    assert api.matched(make_query(SAMPLE), Caller()) == 8


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_stac_api_pages_through_next_links(stac_api, stac_api_catalog, method):
    source = StacApiCollection(stac_api.collection_url(SAMPLE), page_size=3, method=method)
    records = list(source.search(None, None, None, None))
    assert len(records) == 8 and len({r["id"] for r in records}) == 8
    assert source.matched(None, None, None, None) == 8


def test_stac_api_summary_reports_number_matched(stac_api_catalog, sample_small, settings):
    api, static = LayerCatalog.load(stac_api_catalog, settings), LayerCatalog.load(sample_small, settings)
    query = make_query(SAMPLE, bands=["B04"])
    got, expect = api.summary(query, Caller()), static.summary(query, Caller())
    assert got.matched == 8 and expect.matched is None
    assert (got.item_count, got.dates, got.input_pixels) == (expect.item_count, expect.dates, expect.input_pixels)


def test_stac_api_bands_derived_from_the_api(stac_api, stac_api_catalog, tmp_path, settings):
    """An entry without bands gets them from the API collection's item_assets or its items."""
    entry = json.loads(open(stac_api_catalog).read())[0]
    entry.pop("summaries")
    entry.pop("cube:dimensions")
    path = tmp_path / "lc.json"
    path.write_text(json.dumps([entry]))
    bands = LayerCatalog.load(str(path), settings).get(SAMPLE, Caller()).bands
    assert {"B04", "B08", "SCL"} <= {b.name for b in bands}
    assert all(b.source in ("item_assets", "items") for b in bands)


def test_stac_api_private_collection_answers_as_unknown(stac_api_catalog, tmp_path, settings):
    entries = json.loads(open(stac_api_catalog).read())
    entries[0]["_sparkeo"]["access"] = {"groups": ["team-a"]}
    path = tmp_path / "lc.json"
    path.write_text(json.dumps(entries))
    cat = LayerCatalog.load(str(path), settings)
    with pytest.raises(UnknownCollectionError):
        cat.search(make_query(SAMPLE), Caller("bob", frozenset({"team-b"})))
    assert len(cat.search(make_query(SAMPLE), Caller("alice", frozenset({"team-a"})))) == 8


def test_stac_api_503s_are_retried(stac_api, stac_api_catalog, stac_api_fault_proxy):
    stac_api_fault_proxy.set_plan(FaultPlan(api_fraction=1.0, max_faults_per_request=2))
    source = StacApiCollection(f"{stac_api_fault_proxy.endpoint}/collections/{SAMPLE}", page_size=5, backoff=0.05)
    assert len(list(source.search(None, None, None, None))) == 8
    assert stac_api_fault_proxy.stats["errors_503"] >= 4      # landing page, search pages: each twice


def test_stac_api_that_stays_down_is_a_run_error_naming_the_url(stac_api, stac_api_catalog, stac_api_fault_proxy):
    stac_api_fault_proxy.set_plan(FaultPlan(api_fraction=1.0, max_faults_per_request=1000))
    url = f"{stac_api_fault_proxy.endpoint}/collections/{SAMPLE}"
    with pytest.raises(StacApiError) as err:
        list(StacApiCollection(url, retries=2, backoff=0.01).search(None, None, None, None))
    assert isinstance(err.value, RunError) and stac_api_fault_proxy.endpoint in str(err.value)
    refused = f"http://127.0.0.1:{free_port()}/collections/{SAMPLE}"
    with pytest.raises(StacApiError, match=f"127.0.0.1"):
        list(StacApiCollection(refused, retries=1, backoff=0.01).search(None, None, None, None))


def test_stac_api_search_reports_progress(stac_api, stac_api_catalog, caplog, monkeypatch):
    monkeypatch.setattr("layercatalog.stacapi.PROGRESS_EVERY_S", 0.0)
    source = StacApiCollection(stac_api.collection_url(SAMPLE), page_size=3)
    with caplog.at_level("INFO", logger="layercatalog.stacapi"):
        assert len(list(source.search(None, None, None, None))) == 8
    assert [r.getMessage() for r in caplog.records] == [
        "STAC API search: 3 of 8 items", "STAC API search: 6 of 8 items", "STAC API search: 8 of 8 items"]


def test_stac_api_url_that_serves_no_json_is_a_run_error(moto_server):
    url = f"{moto_server.endpoint}/collections/{SAMPLE}"       # an HTTP server, but no STAC API
    with pytest.raises(StacApiError) as err:
        list(StacApiCollection(url, retries=1, backoff=0.01).search(None, None, None, None))
    assert moto_server.endpoint in str(err.value) and "Traceback" not in str(err.value)
