"""The ``job_metadata.json`` document of a run (DESIGN "Results layout"): what ran, on which inputs
and versions, with which plan, and what it used; plus the inputs and time range the STAC documents
take from the same prepared job (``jobs.run.Prepared``)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from jobs.cube.usage import Usage
from sparkeo.contracts import JobState

Prepared = Any      # jobs.run.Prepared: the run layer is above this one


def time_range(prep: Prepared) -> tuple[str, str] | None:
    """The first and last time label the job read (the results' temporal extent)."""
    labels = sorted(s.label for leaf in prep.leaves for s in leaf.slices)
    return (labels[0], labels[-1]) if labels else None


def job_metadata(job_id: str, prep: Prepared, started_at: dt.datetime, usage: Usage, task_attempts: int,
                 wall: float, skipped: list[str], versions: Mapping[str, str], received_bytes: int = 0) -> dict:
    """The ``job_metadata.json`` document (DESIGN "Results layout")."""
    return {
        "job_id": job_id,
        "graph_sha256": prep.graph_sha256,
        "started": started_at.isoformat().replace("+00:00", "Z"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        "status": JobState.FINISHED.value,
        "grid": prep.plan.grid.to_dict(),
        "inputs": list(prep.plan.item_ids),
        "catalog": prep.catalog_uri,
        "skipped_assets": skipped,
        "versions": dict(versions),
        "apply_scale": {leaf.collection.id: leaf.collection.apply_scale for leaf in prep.leaves},
        "job_options": dict(prep.job_options),
        "plan": prep.plan.to_json(),
        "usage": {
            "input_pixels": usage.input_pixels, "bytes_read": usage.bytes_read, "tiles": usage.tiles,
            "read_retries": usage.read_retries, "blocks_read": usage.blocks_read, "task_attempts": task_attempts,
            "cpu_seconds": round(usage.cpu_seconds, 3), "wall_seconds": round(wall, 3),
            # pixel bytes that reached the driver: tile arrays, or (executors writing) reduced strips
            "driver_received_bytes": received_bytes,
        },
        # for the STAC documents only (jobs.results.writer keeps them out of job_metadata.json)
        "process_graph": {"process_graph": prep.graph.raw},
        "input_items": input_items(prep),
    }


def input_items(prep: Prepared) -> list[dict]:
    """Every input item with its STAC href and time label: the results items' ``derived_from`` links."""
    return [{"id": item.id, "href": item.href, "label": s.label, "datetime": item.datetime.isoformat()}
            for leaf in prep.leaves for s in leaf.slices for item in s.items]
