"""``sparkeo.testing.s3`` as bench/ uses it: no pytest fixture in between."""
from __future__ import annotations

from sparkeo.testing.s3 import running_moto
from sparkeo.testing.services import port_answers


def test_running_moto_serves_buckets_inside_the_block_and_stops_after_it(tmp_path):
    with running_moto(tmp_path / "moto.log") as server:
        bucket = server.create_bucket()
        (tmp_path / "tree").mkdir()
        (tmp_path / "tree" / "a.txt").write_text("a")
        assert bucket.upload_tree(tmp_path / "tree", "p") == ["p/a.txt"]
        assert set(bucket.objects("p/")) == {"p/a.txt"} and bucket.uri("p/a.txt") == f"s3://{bucket.name}/p/a.txt"
        assert server.env()["AWS_ENDPOINT_URL"] == server.endpoint
    assert not port_answers(server.port)
