"""Every shared contract is spelled once, in ``sparkeo.contracts`` (or ``sparkeo.names``), and imported
everywhere else: no product module holds one of their values as a string literal of its own."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sparkeo import contracts

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("sparkeo", "jobs", "layercatalog", "sparkapps", "tracker")
HOME = REPO / "sparkeo" / "contracts.py"
# the values that mean the contract wherever they appear (state names are also ordinary words and keys)
SPELLED_ONCE = {
    contracts.COLLECTION_FILE, contracts.METADATA_FILE, contracts.JOB_SPEC_FILE, contracts.PROVENANCE_KEY,
    contracts.METRICS_NAMESPACE, contracts.LABEL_JOB_ID, contracts.LABEL_USER, contracts.LABEL_MANAGED_BY,
    contracts.SPARKEO_SELECTOR, contracts.ANNOTATION_USER,
}


def literals(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def spellings(root: Path, values: set[str]) -> list[str]:
    found = []
    for package in PRODUCT:
        for path in sorted((root / package).rglob("*.py")):
            if path == HOME:
                continue
            rel = path.relative_to(root).as_posix()
            found += [f"{rel}:{line}: {value!r}" for line, value in literals(path) if value in values]
    return found


def test_no_product_module_spells_a_shared_contract():
    assert spellings(REPO, SPELLED_ONCE) == []


def test_the_check_finds_a_second_spelling(tmp_path):
    (tmp_path / "tracker").mkdir()
    (tmp_path / "tracker" / "track.py").write_text('"""Reads job_metadata.json."""\nMETADATA = "job_metadata.json"\n')
    assert spellings(tmp_path, SPELLED_ONCE) == ["tracker/track.py:2: 'job_metadata.json'"]


@pytest.mark.parametrize("state", list(contracts.JobState), ids=str)
def test_job_states_are_one_enum_everywhere(state):
    from tracker.states import JobState

    assert JobState is contracts.JobState and state.is_final == (state in contracts.FINAL_STATES)
