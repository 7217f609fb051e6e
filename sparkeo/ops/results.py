"""``results``: what a finished job wrote (its assets and their sizes), and fetching the whole set.

The reading itself belongs to ``jobs.results`` (``reader``: the document and its assets;
``download``: the checked, self-contained copy); this use case puts them together for a front end.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

from jobs.results import download, reader
from jobs.results.reader import ResultAsset
from sparkeo import storage


@dataclass(frozen=True)
class ResultsListing:
    """The results document of a location and its assets, each with a size."""

    uri: str
    job_id: str | None
    status: str | None
    assets: tuple[ResultAsset, ...]
    document: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(a.size or 0 for a in self.assets)

    def to_json(self, downloaded: tuple[str, ...] | list[str] = ()) -> dict:
        """The listing as ``sparkeo results --json`` prints it."""
        return {"collection": self.uri, "id": self.job_id, "status": self.status,
                "assets": [asdict(a) for a in self.assets], "total_size": self.total_size,
                "downloaded": list(downloaded)}


def list_results(location: str) -> ResultsListing:
    """The assets of the results at ``location`` (folder, ``s3://`` prefix or its ``collection.json``);
    ``ResultsNotFound`` (exit 2) when there are none (yet)."""
    uri, doc = reader.load_document(location)
    # A document without file:size (written by another tool): ask storage for the size.
    assets = tuple(a if a.size is not None else replace(a, size=storage.stat(a.href).size)
                   for a in reader.assets_of(doc, uri))
    return ResultsListing(uri, doc.get("id"), doc.get("openeo:status"), assets, doc)


def download_results(listing: ResultsListing, target_dir: str) -> list[str]:
    """Copy the whole results set of ``listing`` into ``target_dir`` (a self-contained STAC collection,
    sizes and checksums verified); returns the local paths, documents last."""
    return download.download_results(listing.uri, listing.document, target_dir)
