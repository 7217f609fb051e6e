"""Text processes (1.2.0): ``text_begins``, ``text_contains``, ``text_ends`` and ``text_merge``.

Strings are compared as given (no regular expressions); ``case_sensitive=false`` compares the
Unicode case folds ("Ä" matches "ä"). No-data text gives no-data.
"""
from __future__ import annotations

from typing import Any, Callable

from jobs.errors import ProcessError
from jobs.processes.labeled import LabeledArray, elements, is_number
from jobs.processes.registry import Param, process

_PARAMS = (Param("data", kind="string"), Param("pattern", kind="string"), Param("case_sensitive", True, kind="boolean"))


def _match(data: Any, pattern: Any, case_sensitive: bool, test: Callable[[str, str], bool]) -> bool | None:
    if data is None:
        return None
    for name, value in (("data", data), ("pattern", pattern)):
        if not isinstance(value, str):
            raise ProcessError("ProcessParameterInvalid", f"parameter {name!r} must be a string, got {value!r}")
    if not case_sensitive:
        data, pattern = data.casefold(), pattern.casefold()
    return test(data, pattern)


@process("text_begins", *_PARAMS)
def text_begins(data, pattern, case_sensitive=True):
    """Whether ``data`` starts with ``pattern``."""
    return _match(data, pattern, case_sensitive, str.startswith)


@process("text_contains", *_PARAMS)
def text_contains(data, pattern, case_sensitive=True):
    """Whether ``pattern`` occurs in ``data``."""
    return _match(data, pattern, case_sensitive, str.__contains__)


@process("text_ends", *_PARAMS)
def text_ends(data, pattern, case_sensitive=True):
    """Whether ``data`` ends with ``pattern``."""
    return _match(data, pattern, case_sensitive, str.endswith)


def text_of(value: Any) -> str:
    """The text of a JSON value: ``null``, ``true``/``false``, numbers without a needless ``.0``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, str):
        return value
    raise ProcessError("ProcessParameterInvalid", f"cannot merge {value!r} into a text (strings, numbers, "
                                                  "booleans and null only)")


@process("text_merge", Param("data", kind="array"), Param("separator", ""))
def text_merge(data, separator=""):
    """The texts of the elements joined by ``separator`` ("1", "-1.5", "true", "null" for non-strings)."""
    items = elements(LabeledArray.of(data)) if not isinstance(data, (list, tuple)) else list(data)
    return text_of(separator).join(text_of(v) for v in items)
