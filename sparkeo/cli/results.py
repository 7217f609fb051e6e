"""``sparkeo results LOCATION [--download DIR] [--json]``: what a finished job wrote, and fetch it.

LOCATION is a results folder or ``s3://`` prefix (or its ``collection.json``). Only a location with
a results document counts: ``collection.json`` is written last, so without it the job has not
finished (or failed) and the command says so (exit 2) instead of listing partial files.
``--download`` copies the whole results set, documents included, keeping its relative layout
(``sparkeo.download``); the assets are checked against their ``file:size`` and ``file:checksum``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import click

from sparkeo import storage
from sparkeo.cli.options import json_opt
from sparkeo.download import download_results
from sparkeo.errors import NotFoundInStorage, RunError, UserError

COLLECTION_FILE = "collection.json"


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
    """``(uri, parsed collection.json)``; a missing document is a ``UserError`` naming the location."""
    uri = document_uri(location)
    try:
        text = storage.read_text(uri)
    except NotFoundInStorage:
        raise UserError(f"no results at {location!r}: {uri} does not exist "
                        f"(the job has not finished, or it failed)") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise RunError(f"{uri}: not a results document: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("assets"), dict):
        raise RunError(f"{uri}: not a results document (no 'assets' object)")
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


def _human(size: int | None) -> str:
    if size is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


@click.command("results")
@click.argument("location")
@click.option("--download", "download_dir", default=None, metavar="DIR",
              help="Download the whole results set into DIR (a self-contained STAC collection).")
@json_opt
def results(location, download_dir, as_json):
    """List the assets of a job's results (folder or s3:// prefix) with sizes; optionally download them."""
    uri, doc = load_document(location)
    # A document without file:size (written by another tool): ask storage for the size.
    assets = [a if a.size is not None else replace(a, size=storage.stat(a.href).size)
              for a in assets_of(doc, uri)]
    downloaded = download_results(uri, doc, download_dir) if download_dir else []
    total = sum(a.size or 0 for a in assets)
    if as_json:
        click.echo(json.dumps({"collection": uri, "id": doc.get("id"), "status": doc.get("openeo:status"),
                               "assets": [asdict(a) for a in assets], "total_size": total,
                               "downloaded": downloaded}, indent=2))
        return
    click.echo(f"{uri}  (job {doc.get('id')}, {doc.get('openeo:status', 'unknown status')})")
    width = max((len(a.key) for a in assets), default=3)
    for a in assets:
        click.echo(f"{a.key:<{width}}  {_human(a.size):>10}  {a.href}")
    click.echo(f"{len(assets)} asset(s), {_human(total)} ({total} bytes)")
    for path in downloaded:
        click.echo(f"downloaded {path}")
