"""openEO errors: every failure becomes ``{"code", "message", "id"}`` with an HTTP status, in one place.

sparkeo's errors are translated by type (STYLE habit 21): the caller's input (``UserError``) is a 400
with the one-line message the CLI prints, an unknown or someone else's job or collection a 404, a
failed run or an unreachable registry a 500 with the message (never a traceback).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from jobs.errors import BudgetExceeded, ProcessError, ProcessGraphError
from layercatalog.errors import UnknownCollectionError
from sparkeo.errors import SparkeoError, UserError
from sparkeo.names import InvalidJobId
from tracker.errors import IllegalTransition, JobNotFound


@dataclass(frozen=True)
class ApiError(Exception):
    """Raised by a route: answered as ``status`` with openEO's error ``code`` and ``message``."""

    status: int
    code: str
    message: str
    headers: dict = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def to_json(self) -> dict:
        return {"id": uuid.uuid4().hex, "code": self.code, "message": self.message, "links": []}


def unauthenticated(message: str = "authentication required: log in with /credentials/basic") -> ApiError:
    return ApiError(401, "AuthenticationRequired", message, {"WWW-Authenticate": 'Bearer realm="openEO"'})


def job_not_found(job_id: str) -> ApiError:
    # the same answer for an unknown job and another user's job: a job id reveals nothing
    return ApiError(404, "JobNotFound", f"the job {job_id!r} does not exist")


# (type, HTTP status, openEO code), the first match wins: the specific ones first
_TRANSLATIONS: tuple[tuple[type, int, str], ...] = (
    (InvalidJobId, 404, "JobNotFound"),
    (JobNotFound, 404, "JobNotFound"),
    (UnknownCollectionError, 404, "CollectionNotFound"),
    (IllegalTransition, 400, "JobLocked"),
    (BudgetExceeded, 400, "PayloadTooLarge"),
    (ProcessGraphError, 400, "ProcessGraphInvalid"),
    (ProcessError, 400, "ProcessArgumentInvalid"),
    (UserError, 400, "BadRequest"),
)


def from_sparkeo(exc: SparkeoError) -> ApiError:
    """The openEO error a sparkeo error is answered with (one line, as the CLI prints it)."""
    message = " ".join(str(exc).splitlines())
    for kind, status, code in _TRANSLATIONS:
        if isinstance(exc, kind):
            return ApiError(status, code, message)
    return ApiError(500, "Internal", message)
