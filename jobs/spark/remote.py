"""Work the results writers hand to executors: the bytes stay off the driver."""
from __future__ import annotations

from typing import Callable, Sequence


def remote_map(spark, settings=None) -> Callable[[Callable, Sequence], list]:
    """``map(fn, items)`` as one Spark task per item, ``fn(item, settings)`` on an executor."""
    sc = spark.sparkContext

    def run(fn: Callable, items: Sequence) -> list:
        if not items:
            return []
        return sc.parallelize(list(items), len(items)).map(lambda item: fn(item, settings)).collect()

    return run


def remote_checksum(spark, settings=None) -> Callable[[str], str]:
    """``file:checksum`` of an S3 object computed by one Spark task: an executor reads the bytes, not
    the driver."""
    from jobs.results.stripwriter import object_checksum

    run = remote_map(spark, settings)
    return lambda uri: run(object_checksum, [uri])[0]
