"""sparkeo.api.errors: sparkeo's errors become openEO JSON errors by type."""
from __future__ import annotations

import pytest

from jobs.errors import BudgetExceeded, ProcessGraphError, UnreadableAssetError
from layercatalog.errors import UnknownCollectionError
from sparkeo.api.errors import from_sparkeo
from sparkeo.errors import ConfigError
from sparkeo.names import InvalidJobId
from tracker.errors import IllegalTransition, JobNotFound


@pytest.mark.parametrize("exc, status, code", [
    (JobNotFound("j-1", "alice"), 404, "JobNotFound"),
    (InvalidJobId("UP", "bad"), 404, "JobNotFound"),
    (UnknownCollectionError("x", []), 404, "CollectionNotFound"),
    (IllegalTransition("j-1", "finished", "canceled"), 400, "JobLocked"),
    (BudgetExceeded("max_input_pixels", 10, 5), 400, "PayloadTooLarge"),
    (ProcessGraphError("n1", "data", "bad\nvalue"), 400, "ProcessGraphInvalid"),
    (ConfigError("x", 1, "bad"), 400, "BadRequest"),
    (UnreadableAssetError("/a.tif", "gone"), 500, "Internal"),
], ids=lambda v: v if isinstance(v, (int, str)) else type(v).__name__)
def test_translation_by_type(exc, status, code):
    error = from_sparkeo(exc)
    assert (error.status, error.code) == (status, code)
    assert "\n" not in error.message and set(error.to_json()) >= {"id", "code", "message"}
