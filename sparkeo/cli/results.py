"""``sparkeo results LOCATION [--download DIR] [--json]``: what a finished job wrote, and fetch it.

LOCATION is a results folder or ``s3://`` prefix (or its ``collection.json``); without a results
document the job has not finished (or failed) and the command says so (exit 2). ``--download``
copies the whole results set, documents included, keeping its relative layout; the assets are
checked against their ``file:size`` and ``file:checksum`` (``sparkeo.ops.results``).
"""
from __future__ import annotations

import json

import click

from sparkeo.cli.options import json_opt


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
    from sparkeo.ops.results import download_results, list_results

    listing = list_results(location)
    downloaded = download_results(listing, download_dir) if download_dir else []
    if as_json:
        click.echo(json.dumps(listing.to_json(downloaded), indent=2))
        return
    click.echo(f"{listing.uri}  (job {listing.job_id}, {listing.status or 'unknown status'})")
    width = max((len(a.key) for a in listing.assets), default=3)
    for a in listing.assets:
        click.echo(f"{a.key:<{width}}  {_human(a.size):>10}  {a.href}")
    total = listing.total_size
    click.echo(f"{len(listing.assets)} asset(s), {_human(total)} ({total} bytes)")
    for path in downloaded:
        click.echo(f"downloaded {path}")
