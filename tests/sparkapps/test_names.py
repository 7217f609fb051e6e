"""Job ids and label values follow the Kubernetes name rules."""
from __future__ import annotations

import re

import pytest

from sparkapps import names
from sparkapps.errors import InvalidJobId
from sparkeo.errors import UserError
from sparkeo.names import check_job_id, new_job_id

# the rules as the Kubernetes API documents them (apimachinery validation), written independently
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.mark.parametrize("job_id", ["a", "j-1", "job-20261123-abc123", "a" * 63, "x9-y8"])
def test_valid_job_ids_pass(job_id):
    assert check_job_id(job_id) == job_id
    assert DNS1123_LABEL.match(job_id) and len(job_id) <= 63


@pytest.mark.parametrize("job_id, reason", [
    ("", "non-empty"),
    ("a" * 64, "longer than 63"),
    ("Job-1", "lower-case"),
    ("job_1", "lower-case"),
    ("-job", "start with a letter"),
    ("job-", "end alphanumeric"),
    ("1job", "start with a letter"),
    ("job.1", "lower-case"),
])
def test_invalid_job_ids_name_the_id_and_reason(job_id, reason):
    with pytest.raises(InvalidJobId) as err:
        check_job_id(job_id)
    assert isinstance(err.value, UserError) and err.value.exit_code == 2
    assert repr(job_id) in str(err.value) and reason in str(err.value)


def test_new_job_ids_are_valid_unique_and_time_sortable():
    ids = [new_job_id(now=1_800_000_000 + i) for i in range(50)]
    assert len(set(ids)) == 50
    assert all(DNS1123_LABEL.match(i) and len(i) <= 63 for i in ids)
    assert [i.split("-")[1] for i in ids] == sorted(i.split("-")[1] for i in ids)
    assert ids[0].startswith("j-20270115")


@pytest.mark.parametrize("user", ["alice", "a.b_c-d", "A1"])
def test_valid_label_values_are_unchanged(user):
    assert names.label_value(user) == user


@pytest.mark.parametrize("user", ["alice@example.org", "Jane Doe", "-x-", "ü" * 10, "u" * 80, "@@@", "a/b"])
def test_label_values_are_sanitised_to_valid_values(user):
    value = names.label_value(user)
    assert LABEL_VALUE.match(value) and 0 < len(value) <= 63, value


def test_sanitised_label_values_keep_users_apart():
    # "a@x.org" and "a-x.org" would both become "a-x.org" by plain substitution
    assert names.label_value("a@x.org") != names.label_value("a-x.org")
    assert names.label_value("a@x.org") == names.label_value("a@x.org")
