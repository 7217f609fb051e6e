"""The size rules of the layout (README "Layout", STYLE habit 1), checked on the source.

- A product module holds one concept in about 150-400 lines: one over ``MAX_LINES`` says why in its
  docstring, in a sentence starting ``Longer than ~400 lines on purpose`` (``tracker/registry.py``:
  one boundary to ZooKeeper).
- ``jobs/`` keeps its layers in subpackages: at most ``JOBS_TOP_LEVEL`` modules at its top level.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("jobs", "layercatalog", "sparkapps", "tracker", "sparkeo")
MAX_LINES = 400
REASON = re.compile(r"longer than ~?400 lines", re.IGNORECASE)
JOBS_TOP_LEVEL = 6


def long_modules_without_reason(root: Path) -> list[str]:
    """``path: N lines`` for each product module below ``root`` over ``MAX_LINES`` with no reason."""
    out = []
    for package in PRODUCT:
        for path in sorted((root / package).rglob("*.py")):
            source = path.read_text()
            lines = source.count("\n")
            if lines > MAX_LINES and not REASON.search(ast.get_docstring(ast.parse(source)) or ""):
                out.append(f"{path.relative_to(root)}: {lines} lines")
    return out


def test_no_long_product_module_without_a_reason():
    assert long_modules_without_reason(REPO) == []


def test_jobs_keeps_its_layers_in_subpackages():
    top = sorted(p.name for p in (REPO / "jobs").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(top) <= JOBS_TOP_LEVEL, top


@pytest.mark.parametrize("docstring, reported", [
    ("One concept.", True),
    ("One concept.\n\nLonger than ~400 lines on purpose: one boundary.", False),
], ids=["no-reason", "reason"])
def test_a_long_module_is_reported_unless_its_docstring_says_why(tmp_path, docstring, reported):
    (tmp_path / "tracker").mkdir()
    (tmp_path / "tracker" / "big.py").write_text(f'"""{docstring}"""\n' + "x = 1\n" * MAX_LINES)
    (tmp_path / "tracker" / "small.py").write_text('"""Small."""\n' + "x = 1\n" * 10)
    found = long_modules_without_reason(tmp_path)
    assert found == (["tracker/big.py: 401 lines"] if reported else [])
