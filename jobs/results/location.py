"""The results location: which files there sparkeo wrote, and whether a new run may write there.

DESIGN "Results layout": a re-run replaces sparkeo's own previous results (the files its previous
results document lists), and only after the new run has passed every check; sparkeo never deletes
or overwrites a file it did not write, and refuses a non-empty location that holds no sparkeo results.

sparkeo's previous results are recognised by their ``collection.json`` (a STAC collection carrying
``sparkeo:provenance``), else by their ``job_metadata.json`` (``job_id``, ``graph_sha256`` and the
``assets`` it lists): the writer publishes the metadata first and the document last, so a run that
failed half-way still leaves a record of what it owns. A foreign STAC ``collection.json``
(someone's own catalog) owns nothing.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Iterable

from sparkeo import storage
from sparkeo.contracts import COLLECTION_FILE, METADATA_FILE, PROVENANCE_KEY, item_file
from sparkeo.errors import ConfigError, NotFoundInStorage, UserError

OWNED_LINKS = ("self", "item", "related")


class ResultsLocationError(UserError):
    """Raised when a run may not write its results to ``output`` (exit 2, nothing written there)."""

    def __init__(self, output: str, reason: str):
        super().__init__(f"results location {output!r} {reason}", output=output, reason=reason)


@dataclass(frozen=True)
class ResultsLocation:
    """A snapshot of a results folder or S3 prefix: every file there, and those sparkeo's previous results own.

    Names are relative to the location, ``/``-separated. ``previous_job`` is the job id of sparkeo's
    results there, ``None`` when there are none.
    """

    output: str
    present: frozenset[str]
    owned: frozenset[str]
    previous_job: str | None

    @classmethod
    def inspect(cls, output: str) -> "ResultsLocation":
        """List ``output`` and read sparkeo's previous results document there (read only)."""
        if storage.is_s3(output) and not storage.split_s3(output)[1].strip("/"):
            # A re-run replaces the files of the previous one below the prefix: never at a bucket's root.
            raise ConfigError("--output", output, "an S3 output needs a prefix, e.g. s3://bucket/jobs/<job_id>/")
        if not storage.is_s3(output) and os.path.exists(output) and not os.path.isdir(output):
            raise ResultsLocationError(output, "is a file, not a folder")
        # S3 "folder" marker objects (keys ending in "/", made by consoles) hold no file of anyone's.
        present = frozenset(n for n in (_relative(output, o.uri) for o in storage.list_prefix(output))
                            if n and not n.endswith("/"))
        owned, job = _previous_results(output, present)
        return cls(output, present, frozenset(owned & present), job)

    def check_writable(self, names: Iterable[str]) -> None:
        """Raise ``ResultsLocationError`` unless a run writing ``names`` here touches only sparkeo's own files."""
        if self.present and self.previous_job is None:
            shown = ", ".join(sorted(self.present)[:3]) + (", ..." if len(self.present) > 3 else "")
            raise ResultsLocationError(
                self.output, f"is not empty and holds no sparkeo results ({shown}): sparkeo never replaces "
                             f"files it did not write; choose an empty or new location")
        foreign = sorted(n for n in names if n in self.present and n not in self.owned)
        if foreign:
            raise ResultsLocationError(
                self.output, f"has {', '.join(foreign)}, which sparkeo did not write: the new results would "
                             f"overwrite it; choose another location")

    def stale(self, names: Iterable[str]) -> list[str]:
        """sparkeo's previous files here that a run writing ``names`` does not replace: a re-run removes them."""
        return sorted(self.owned - set(names))


def _relative(output: str, uri: str) -> str:
    """``uri`` (listed below ``output``) relative to it."""
    if storage.is_s3(output):
        return uri[len(output.rstrip("/")) + 1:]
    return PurePosixPath(os.path.relpath(uri, output)).as_posix()


def _inside(output: str, uri: str) -> str | None:
    """``uri`` relative to ``output`` when it lies below it, else None (a document may name anything)."""
    if storage.is_s3(output) != storage.is_s3(uri):
        return None
    if storage.is_s3(output):
        base = output.rstrip("/") + "/"
        return uri[len(base):] if uri.startswith(base) and ".." not in uri[len(base):].split("/") else None
    rel = os.path.relpath(os.path.abspath(uri), os.path.abspath(output))
    return None if rel == os.pardir or rel.startswith(os.pardir + os.sep) else PurePosixPath(rel).as_posix()


def _read_json(uri: str) -> Any:
    try:
        return json.loads(storage.read_text(uri))
    except (NotFoundInStorage, ValueError):   # absent, not JSON, or not UTF-8: not a sparkeo record
        return None


def _previous_results(output: str, present: frozenset[str]) -> tuple[set[str], str | None]:
    """(the names sparkeo's previous results own, their job id), or (empty, None) when there are none."""
    if COLLECTION_FILE in present:
        uri = storage.join(output, COLLECTION_FILE)
        doc = _read_json(uri)
        if isinstance(doc, dict) and isinstance(doc.get(PROVENANCE_KEY), dict):
            return _owned_by_document(output, uri, doc), str(doc.get("id"))
    if METADATA_FILE in present:
        meta = _read_json(storage.join(output, METADATA_FILE))
        if (isinstance(meta, dict) and "graph_sha256" in meta and isinstance(meta.get("job_id"), str)
                and isinstance(meta.get("assets"), list)):
            return _owned_by_metadata(meta), meta["job_id"]
    return set(), None


def _owned_by_document(output: str, uri: str, doc: dict) -> set[str]:
    """The document itself, its assets, and its item, metadata and self links (those below ``output``)."""
    hrefs = [a.get("href") for a in (doc.get("assets") or {}).values() if isinstance(a, dict)]
    hrefs += [link.get("href") for link in doc.get("links") or []
              if isinstance(link, dict) and link.get("rel") in OWNED_LINKS]
    owned = {COLLECTION_FILE}
    for href in hrefs:
        if isinstance(href, str):
            name = _inside(output, storage.resolve(uri, href))
            if name:
                owned.add(name)
    return owned


def _owned_by_metadata(meta: dict) -> set[str]:
    """The metadata, the assets it lists and their STAC items (``contracts.item_file``), as the writer names them.

    Not ``collection.json``: one there that is not sparkeo's (checked first) belongs to someone else.
    """
    assets = [a for a in meta["assets"] if isinstance(a, str) and "/" not in a and a not in ("", ".", "..")]
    return {METADATA_FILE, *assets, *(item_file(a) for a in assets)}
