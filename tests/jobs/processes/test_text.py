"""text_begins, text_contains, text_ends, text_merge; text processes on band labels."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.errors import ProcessError
from jobs.processes.text import text_begins, text_contains, text_ends, text_merge
from tests.fixtures.cubes import S2_BANDS, built, callback, s2_values


def test_case_folding_and_nodata():
    assert text_ends("STRASSE", "ße", case_sensitive=False) is True       # Unicode case folding
    assert text_contains(None, "x") is None and text_begins("abc", "B") is False


def test_text_merge_writes_json_values_as_text():
    assert text_merge([1.0, -1.5, True, None, "ß"], separator=1.0) == "11-1.51true1null1ß"


def test_non_text_is_a_user_error():
    with pytest.raises(ProcessError, match="'pattern'"):
        text_begins("abc", 1)
    with pytest.raises(ProcessError, match="cannot merge"):
        text_merge([[1]])


def test_filter_labels_on_bands_by_text():
    condition = callback(("e", "text_ends", {"data": {"from_parameter": "value"}, "pattern": "8"}),
                         ("n", "not", {"x": {"from_node": "e"}}))
    cube = built({"f": {"process_id": "filter_labels", "arguments": {
        "data": {"from_node": "load"}, "dimension": "bands", "condition": condition}}})
    assert cube.meta.labels["bands"] == tuple(b for b in S2_BANDS if b != "B08")
    np.testing.assert_array_equal(materialize(cube), s2_values()[:, [0, 2]])
