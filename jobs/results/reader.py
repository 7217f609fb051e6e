"""Reading a job's results back: the results document of a location and the assets it lists.

A location is a results folder or ``s3://`` prefix (or its ``collection.json`` itself). Only a
location with a results document counts: ``collection.json`` is written last, so without it the
job has not finished (or failed), which is the caller's mistake to ask about (``ResultsNotFound``,
exit 2), never a listing of partial files. Pure apart from ``load_document``'s one read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sparkeo import storage
from sparkeo.contracts import COLLECTION_FILE
from sparkeo.errors import NotFoundInStorage, RunError, UserError


class ResultsNotFound(UserError):
    """Raised when a location holds no results document (the job has not finished, or it failed)."""

    def __init__(self, location: str, uri: str):
        super().__init__(f"no results at {location!r}: {uri} does not exist (the job has not finished, or it failed)",
                         location=location, uri=uri)


class NotAResultsDocument(RunError):
    """Raised when a location's results document is not JSON or has no ``assets`` object."""

    def __init__(self, uri: str, reason: str):
        super().__init__(f"{uri}: not a results document{': ' + reason if reason else ''}", uri=uri, reason=reason)


@dataclass(frozen=True)
class ResultAsset:
    """One asset of a results document, its href resolved against the document."""

    key: str
    href: str
    size: int | None
    checksum: str | None
    type: str | None
    datetime: str | None


def document_uri(location: str) -> str:
    """The results document of a location (a folder/prefix, or the document itself)."""
    return location if location.rstrip("/").endswith(".json") else storage.join(location, COLLECTION_FILE)


def load_document(location: str) -> tuple[str, dict]:
    """``(uri, parsed collection.json)`` of a location; ``ResultsNotFound`` when it has none."""
    uri = document_uri(location)
    try:
        text = storage.read_text(uri)
    except NotFoundInStorage:
        raise ResultsNotFound(location, uri) from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise NotAResultsDocument(uri, str(exc)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("assets"), dict):
        raise NotAResultsDocument(uri, "no 'assets' object")
    return uri, doc


def assets_of(doc: dict, doc_uri: str) -> list[ResultAsset]:
    """The document's assets in key order (pure)."""
    out = []
    for key in sorted(doc["assets"]):
        a = doc["assets"][key]
        when = a.get("datetime") or "/".join(x for x in (a.get("start_datetime"), a.get("end_datetime")) if x) or None
        out.append(ResultAsset(key, storage.resolve(doc_uri, a["href"]), a.get("file:size"),
                               a.get("file:checksum"), a.get("type"), when))
    return out
