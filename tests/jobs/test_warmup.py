"""jobs.warmup: the warm-up is a real job on a generated sample, and leaves nothing behind."""
from __future__ import annotations

import tempfile

import pytest

from jobs import warmup
from sparkeo.errors import ConfigError
from sparkeo.settings import Settings


def test_warm_up_runs_a_whole_job_and_leaves_no_file(spark, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    done = warmup.warm_up(spark, Settings(cache_dir=str(tmp_path / "cache")))
    # 512 px in 256 px tiles; the COG and both STAC documents were written
    assert done.tiles == 4
    assert set(done.files) == {"result.tif", "job_metadata.json", "collection.json"}
    assert done.job_seconds > 0 and done.seconds > done.job_seconds
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []


def test_a_failing_warm_up_raises_and_leaves_no_file(spark, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(warmup, "SAMPLE_SIZE", 4)          # below write_sample's 16 px
    with pytest.raises(ConfigError, match="size"):
        warmup.warm_up(spark, Settings(cache_dir=str(tmp_path / "cache")))
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []
