"""Spark passes whose tasks send back small records instead of tiles (aggregate_spatial's partials,
trim_cube's validity): one task per group of tiles, what every task shares shipped once and unpickled
once per worker, the records collected on the driver."""
from __future__ import annotations

import uuid
from typing import Any, Callable, Sequence

from pyspark import cloudpickle

from jobs.spark.allocator import keep_tile_memory
from jobs.spark.sparkjobs import ship, task_failure_reason
from sparkeo.errors import RunError


def collect_groups(sc, groups: Sequence[Any], shared: tuple, inline_bytes: int, name: str, description: str,
                   task: Callable[[tuple, Any], Any]) -> tuple[list, str]:
    """(``[task(shared, group) for group in groups]`` computed on Spark, the Spark job group's id).
    ``shared`` (cube, settings, options...) is shipped as ``jobs.spark.sparkjobs.ship`` decides; ``task``
    must be a module-level function. A failed Spark job is a ``RunError`` of one line."""
    group_id = f"sparkeo-{name}-{uuid.uuid4().hex[:12]}"
    shipped = ship(sc, cloudpickle.dumps(shared), len(groups), inline_bytes)
    sc.setJobGroup(group_id, description, interruptOnCancel=True)
    try:
        parts = sc.parallelize(list(groups), len(groups)).map(lambda g: _on_worker(shipped, group_id, task, g)).collect()
    except Exception as exc:  # Py4JJavaError and friends: one line, no JVM stack
        raise RunError(f"Spark task failed: {task_failure_reason(exc)}") from None
    finally:
        shipped.unpersist(blocking=False)
    return parts, group_id


_SHIPPED: dict[str, tuple] = {}


def unpickled(shipped, key: str) -> tuple:
    """What ``ship`` sent for the pass ``key``, unpickled once per worker and pass (only the current
    pass's kept); its second element is the job's settings, whose allocator thresholds are applied."""
    if key not in _SHIPPED:
        _SHIPPED.clear()
        _SHIPPED[key] = cloudpickle.loads(shipped.value)
    keep_tile_memory(_SHIPPED[key][1])
    return _SHIPPED[key]


def _on_worker(shipped, key: str, task: Callable[[tuple, Any], Any], group: Any) -> Any:
    return task(unpickled(shipped, key), group)
