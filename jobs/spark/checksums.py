"""Checksums of results objects computed on an executor: the bytes stay off the driver."""
from __future__ import annotations

from typing import Callable


def remote_checksum(spark, settings=None) -> Callable[[str], str]:
    """``file:checksum`` of an S3 object computed by one Spark task: an executor reads the bytes, not
    the driver."""
    from jobs.results.stripwriter import object_checksum

    sc = spark.sparkContext

    def checksum(uri: str) -> str:
        return sc.parallelize([uri], 1).map(lambda u: object_checksum(u, settings)).collect()[0]

    return checksum
