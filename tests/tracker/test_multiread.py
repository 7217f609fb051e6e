"""ZooKeeper multiRead (one request, many getData) against the real server, compared with kazoo's
own one-by-one ``get``."""
from __future__ import annotations

from kazoo.exceptions import NoNodeError

from tracker.multiread import multi_read_async
from tracker.record import JobRecord


def test_multi_read_equals_single_gets_and_reports_missing_nodes(registry, zk_root):
    client = registry.client
    paths = [f"{zk_root}/m/n{i}" for i in range(450)]
    for i, path in enumerate(paths):
        client.create(path, f"value-{i}".encode() * (i % 7), makepath=True)
    client.set(paths[3], b"changed")
    client.create(f"{zk_root}/m/empty")  # zero-length data
    asked = paths[:5] + [f"{zk_root}/m/absent"] + paths[5:] + [f"{zk_root}/m/empty"]
    got = multi_read_async(client, asked).get(timeout=30)
    assert len(got) == len(asked)
    for path, result in zip(asked, got):
        if path.endswith("absent"):
            assert isinstance(result, NoNodeError)
        else:
            assert result == client.get(path)  # same data and ZnodeStat (version, mtime, ...)
    assert got[3][0] == b"changed" and got[3][1].version == 1


def test_registry_reads_use_multi_read_and_match_the_fallback(registry):
    registry.create_many([JobRecord(job_id=f"j-{i}", user=f"u{i % 3}") for i in range(500)])
    batched, _ = registry.read_ongoing()
    assert registry._multiread is True
    registry._multiread = False  # what a ZooKeeper before 3.6 gets
    single, _ = registry.read_ongoing()
    assert sorted(batched, key=lambda v: v.record.job_id) == sorted(single, key=lambda v: v.record.job_id)
    assert len(batched) == 500
