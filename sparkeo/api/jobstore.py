"""A user's batch jobs as the API sees them: the registry record (ZooKeeper, the same ``JobRecord`` the
tracker keeps) plus the job's inputs in object storage where ``submit`` keeps them (the folder of the
record's ``spec``, ``<output>.job/``): ``job_spec.json``, the request body at the spec's ``graph`` URI
(the graph the driver reads), and in local mode ``logs.jsonl``.

Every read goes through the caller's own registry folder (``jobs/*/<user>/<job_id>``): another user's
job is not found, exactly like an unknown one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sparkeo import storage
from sparkeo.api.errors import ApiError, job_not_found
from sparkeo.contracts import JobState
from sparkeo.errors import NotFoundInStorage
from sparkeo.identity import Caller
from sparkeo.names import InvalidJobId, check_job_id
from sparkeo.ops.prepare import GraphSource, PreparedJob
from tracker import lifecycle
from tracker.errors import JobNotFound
from tracker.record import JobRecord
from tracker.registry import JobRegistry

LOG_FILE = "logs.jsonl"
#: what ``PATCH /jobs/{id}`` may change
PATCHABLE = frozenset({"title", "description", "process", "plan", "budget", "log_level"})
#: openEO log levels, most severe first; ``level=warning`` asks for warning and error
LEVELS = ("error", "warning", "info", "debug")


def inputs_of(record: JobRecord) -> str:
    """The folder (or prefix) of the job's inputs: where its ``job_spec.json`` is."""
    return record.spec.rsplit("/", 1)[0]


def logs_location(record: JobRecord) -> str:
    """Where a local job's log entries are written (beside its inputs, never in its results)."""
    return storage.join(inputs_of(record), LOG_FILE)


def _time(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


@dataclass(frozen=True)
class JobStore:
    """The registry and the object storage of the API's jobs; in cluster mode, ``driver_logs``
    (``sparkeo.api.podlogs.DriverLogs``) reads the jobs' driver pod logs."""

    registry: JobRegistry
    driver_logs: Any = None

    def record(self, caller: Caller, job_id: str) -> JobRecord:
        """``caller``'s job ``job_id``; 404 for a malformed id, an unknown job and another user's job."""
        try:
            return self.registry.get(check_job_id(job_id), caller.user)
        except (InvalidJobId, JobNotFound):
            raise job_not_found(job_id) from None

    def create(self, prep: PreparedJob, body: Mapping[str, Any]) -> JobRecord:
        """Store the request body and job spec beside the results location, then register the job ``created``."""
        record = lifecycle.record_for(prep.job, prep.deployment.namespace).evolve(title=body.get("title"))
        storage.write_bytes(prep.job.graph_uri, json.dumps(body).encode(), "application/json")
        storage.write_bytes(record.spec, json.dumps(prep.job.to_json()).encode(), "application/json")
        return self.registry.create(record)

    def body(self, record: JobRecord) -> dict:
        """The request body the job was created (or last patched) with."""
        return json.loads(storage.read_text(self.spec(record)["graph"]))

    def graph_source(self, record: JobRecord) -> GraphSource:
        """The job's stored graph, where the driver can read it."""
        uri = self.spec(record)["graph"]
        return GraphSource(storage.read_text(uri), f"job {record.job_id}", uri if storage.is_s3(uri) else None)

    def spec(self, record: JobRecord) -> dict:
        """The job's ``job_spec.json`` (``sparkapps.manifest.JobSpec.to_json``)."""
        return json.loads(storage.read_text(record.spec))

    def patch(self, caller: Caller, job_id: str, changes: Mapping[str, Any]) -> JobRecord:
        """Change title, description or process of a job that has not started (openEO: ``JobLocked`` else)."""
        record = self.record(caller, job_id)
        if record.status != JobState.CREATED:
            raise ApiError(400, "JobLocked", f"job {job_id!r} is {record.status.value}: only a created job changes")
        body = {**self.body(record), **{k: v for k, v in changes.items() if k in PATCHABLE}}
        storage.write_bytes(self.spec(record)["graph"], json.dumps(body).encode(), "application/json")
        if "title" in changes:
            return self.registry.update(job_id, caller.user, lambda r: r.evolve(title=changes["title"]))
        return record

    def delete(self, record: JobRecord) -> None:
        """Remove the record and everything the job stored (inputs, logs, results)."""
        for prefix in (inputs_of(record), record.results):
            storage.delete_prefix(prefix.rstrip("/") + "/")
        self.registry.delete_many([self.registry.read(record.job_id, record.user)])

    def list(self, caller: Caller) -> list[JobRecord]:
        """``caller``'s jobs, newest first."""
        return sorted(self.registry.list(caller.user), key=lambda r: (r.created, r.job_id), reverse=True)

    def logs(self, record: JobRecord) -> list[dict]:
        """The job's log entries (local mode's log file, cluster mode's driver pod log while the pod
        exists), then its error from the record."""
        entries: list[dict] = []
        if self.driver_logs is not None:
            entries = self.driver_logs.entries(record.job_id, record.app_name, record.namespace) or []
        else:
            try:
                text = storage.read_text(logs_location(record))
                entries = [json.loads(line) for line in text.splitlines() if line.strip()]
            except NotFoundInStorage:
                pass
        if record.error and not any(e.get("level") == "error" and e.get("message") == record.error for e in entries):
            # an id after every other: ``offset`` of the last log line still reaches the error
            last = max((int(e["id"]) for e in entries if str(e.get("id", "")).isdigit()), default=-1)
            entries.append({"id": f"{last + 1}", "level": "error", "message": record.error,
                            "time": _time(record.finished or record.updated)})
        return entries

    @staticmethod
    def document(record: JobRecord, body: Mapping[str, Any] | None = None) -> dict:
        """The openEO batch job document (``GET /jobs/{id}``; without ``body``, the listing's short form)."""
        doc = {"id": record.job_id, "title": record.title, "status": record.status.value,
               "created": _time(record.created), "updated": _time(record.updated or record.created)}
        if record.status == JobState.FINISHED:
            doc["progress"] = 100
        if body is not None:
            doc["description"] = body.get("description")
            doc["process"] = body.get("process") or {"process_graph": body.get("process_graph", {})}
            if record.usage:
                doc["usage"] = {k: {"value": v, "unit": ""} for k, v in record.usage.items()}
        return doc
