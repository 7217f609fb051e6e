"""``sparkeo.readpolicy``: what a restricted job may read, after DNS, on redirects, in a STAC document's
links and assets (real HTTP servers on loopback ports; the planner on the driver, no Spark)."""
from __future__ import annotations

import json
import shutil
import threading
import urllib.parse
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sparkeo import storage
from sparkeo.errors import ConfigError
from sparkeo.identity import Caller
from sparkeo.readpolicy import RESTRICTED, ReadPolicy, ReadRefused, reading_for_user
from sparkeo.settings import Settings
from sparkeo.testing.webserver import serve_folder

RESTRICT = ReadPolicy(RESTRICTED)


@pytest.mark.parametrize("url, reason", [
    ("/etc/passwd", "only http"), ("file:///etc/passwd", "only http"), ("s3://bucket/key", "only http"),
    ("/vsis3/bucket/key", "only http"), ("results/j-1/collection.json", "only http"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"), ("http://127.0.0.1:8080/x", "loopback"),
    ("http://[::1]/x", "loopback"), ("http://10.0.0.1/x", "private"), ("http://172.16.5.4/x", "private"),
    ("http://192.168.1.1/x", "private"), ("http://[::ffff:127.0.0.1]/x", "loopback"),
    ("http://localhost:8080/x", r"localhost \(127.0.0.1\) is a loopback"),     # checked after DNS resolution
])
def test_restricted_refuses_server_side_locations(url, reason):
    with pytest.raises(ReadRefused, match=reason) as err:
        RESTRICT.check(url)
    assert url in str(err.value)
    ReadPolicy().check(url)         # the command line's default reads anything


def test_allow_list_and_grants():
    policy = ReadPolicy(RESTRICTED, ("127.0.0.1:8080", "localhost")).granting("/srv/results/j-1", "s3://b/r/j-2")
    for url in ("http://127.0.0.1:8080/x", "http://localhost:9999/x", "/srv/results/j-1/collection.json",
                "file:///srv/results/j-1/a/b.tif", "s3://b/r/j-2/collection.json"):
        policy.check(url)
    for url in ("http://127.0.0.1:8081/x", "/srv/results/j-10/collection.json", "/srv/results/j-1/../j-3/c.json",
                "s3://b/r/j-2/../j-3/collection.json", "s3://b/r/j-22"):
        with pytest.raises(ReadRefused):
            policy.check(url)


def test_the_setting_round_trips_through_the_environment():
    settings = Settings.from_env({"SPARKEO_USER_READS": "restricted;allow=127.0.0.1:8080,Stac.Internal"})
    assert settings.user_reads == ReadPolicy(RESTRICTED, ("127.0.0.1:8080", "stac.internal"))
    assert Settings.from_env(settings.to_env()).user_reads == settings.user_reads
    web = Settings(user_reads=ReadPolicy(allow=("h:1",))).for_web_api(local=False, allow_udf=False)
    assert web.user_reads == ReadPolicy(RESTRICTED, ("h:1",)) and Settings().user_reads.mode == "any"
    with pytest.raises(ConfigError, match="SPARKEO_USER_READS"):
        Settings.from_env({"SPARKEO_USER_READS": "everything"})


@contextmanager
def redirecting_to(target: str):
    """A loopback server answering every GET with a 302 to ``target``; yields its ``host:port``."""
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_redirects_are_checked_against_the_policy(tmp_path):
    (tmp_path / "doc.json").write_text("{}")
    with serve_folder(str(tmp_path)) as web, redirecting_to(web.url_of("doc.json")) as redirector:
        url = f"http://{redirector}/doc.json"
        assert storage.read_bytes(url) == b"{}"         # no policy: followed
        with reading_for_user(ReadPolicy(RESTRICTED, (redirector,))):
            with pytest.raises(ReadRefused, match="loopback") as err:
                storage.read_bytes(url)
        assert web.url_of("doc.json") in str(err.value)
        with reading_for_user(ReadPolicy(RESTRICTED, (redirector, urllib.parse.urlsplit(web.url).netloc))):
            assert storage.read_bytes(url) == b"{}"


@pytest.mark.parametrize("planted", ["asset", "item link"])
def test_a_web_stac_document_cannot_lead_the_driver_to_local_files(sample_small, tmp_path, planted):
    from jobs.errors import ProcessError
    from jobs.run import load_catalog, prepare

    source = Path(sample_small).parent / "sample-s2"
    served = tmp_path / "web"
    shutil.copytree(source, served / "sample-s2")
    collection = served / "sample-s2" / "collection.json"
    doc = json.loads(collection.read_text())
    first = next(link for link in doc["links"] if link["rel"] == "item")
    item_path = (collection.parent / first["href"]).resolve()
    if planted == "item link":      # an absolute local path: the server's own copy of the item
        first["href"] = str(source / Path(first["href"]).relative_to("."))
        collection.write_text(json.dumps(doc))
    else:
        item = json.loads(item_path.read_text())
        item["assets"]["B04"]["href"] = str(source / item_path.parent.name / "B04.tif")
        item_path.write_text(json.dumps(item))
    with serve_folder(str(served)) as web:
        policy = ReadPolicy(RESTRICTED, (urllib.parse.urlsplit(web.url).netloc,))
        settings = Settings(cache_dir=str(tmp_path / "cache"), tile_size=64, user_reads=policy)
        graph = {"process_graph": {
            "load": {"process_id": "load_stac", "arguments": {"url": web.url_of("sample-s2/collection.json"),
                                                              "bands": ["B04"]}},
            "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "load"}, "format": "GTiff"},
                     "result": True}}}
        with pytest.raises(ProcessError) as err:
            prepare(json.dumps(graph), load_catalog(sample_small, settings), Caller(), settings, None, "graph")
        assert "'load'" in str(err.value) and "'url'" in str(err.value) and str(source) in str(err.value)
        # the same document, the command line's default policy: it loads
        open_settings = Settings(cache_dir=str(tmp_path / "cache2"), tile_size=64)
        prepare(json.dumps(graph), load_catalog(sample_small, open_settings), Caller(), open_settings, None, "graph")
