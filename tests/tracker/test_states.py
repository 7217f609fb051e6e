"""Job states: DESIGN.md's SparkApplication mapping, legal and illegal transitions."""
from __future__ import annotations

import pytest

from tracker.errors import IllegalTransition
from tracker.states import FINAL_STATES, JobState, check_transition, is_legal, job_state_of, parse_state

# DESIGN.md, "Job states", written out independently of the module's table.
DESIGN_MAPPING = [
    ("", "queued"), ("SUBMITTED", "queued"), ("PENDING_RERUN", "queued"),
    ("RUNNING", "running"), ("SUCCEEDING", "running"),
    ("COMPLETED", "finished"),
    ("FAILED", "error"), ("SUBMISSION_FAILED", "error"), ("FAILING", "error"),
]


@pytest.mark.parametrize("app_state,job_state", DESIGN_MAPPING, ids=[a or "empty" for a, _ in DESIGN_MAPPING])
def test_every_design_mapping(app_state, job_state):
    assert job_state_of(app_state) is JobState(job_state)


@pytest.mark.parametrize("app_state", ["INVALIDATING", "UNKNOWN", "completed", "Running", "SUSPENDED"])
def test_unknown_application_states_map_to_no_change(app_state):
    assert job_state_of(app_state) is None


def test_missing_application_state_is_like_empty():
    assert job_state_of(None) is JobState.QUEUED


@pytest.mark.parametrize("final", sorted(FINAL_STATES), ids=str)
@pytest.mark.parametrize("target", list(JobState), ids=str)
def test_final_states_never_change(final, target):
    assert not is_legal(final, target)
    with pytest.raises(IllegalTransition, match=f"'{final.value}' -> '{target.value}'.*final state never changes"):
        check_transition("j-1", final, target)


LEGAL = [("created", "queued"), ("created", "error"), ("created", "canceled"), ("queued", "running"),
         ("queued", "finished"), ("queued", "canceled"), ("running", "finished"), ("running", "error"),
         ("running", "canceled"), ("running", "queued"), ("queued", "queued")]
ILLEGAL = [("queued", "created"), ("running", "created")]


@pytest.mark.parametrize("old,new", LEGAL, ids=[f"{a}-{b}" for a, b in LEGAL])
def test_legal_transitions(old, new):
    check_transition("j-1", JobState(old), JobState(new))


@pytest.mark.parametrize("old,new", ILLEGAL, ids=[f"{a}-{b}" for a, b in ILLEGAL])
def test_illegal_transitions_name_the_job(old, new):
    with pytest.raises(IllegalTransition) as info:
        check_transition("j-7", JobState(old), JobState(new))
    assert info.value.job_id == "j-7" and "'j-7'" in str(info.value) and info.value.exit_code == 2


def test_parse_state_names_the_bad_value():
    assert parse_state("running") is JobState.RUNNING
    with pytest.raises(ValueError, match="'done'"):
        parse_state("done")
