"""``sparkeo catalog list | describe ID | search ID | summary ID | count ID | add-stac URL``: what data exists, before any job.

Every subcommand sees only what the caller (``--user``/``--groups``) may see. ``--catalog`` defaults
to ``SPARKEO_CATALOG``, then to the sample catalog generated on first use in the cache folder.
"""
from __future__ import annotations

import json

import click

from sparkeo.cli.options import (bbox_crs_opt, bbox_opt, caller_of, catalog_opt, json_opt, options, settings_of,
                                 time_opt)


def _catalog(ctx: click.Context, uri: str | None):
    from layercatalog.catalog import LayerCatalog
    from layercatalog.sample import default_catalog

    settings = settings_of(ctx)
    return LayerCatalog.load(uri or default_catalog(settings), settings)


def _query(collection_id, bbox, bbox_crs, time, bands, filters):
    from layercatalog.properties import parse_filter_expression
    from layercatalog.query import make_query, parse_bbox, parse_interval

    return make_query(
        collection_id,
        bbox=parse_bbox(bbox, "--bbox") if bbox else None,
        bbox_crs=bbox_crs,
        interval=parse_interval(time, "--time") if time else (None, None),
        bands=[b.strip() for b in bands.split(",") if b.strip()] if bands else None,
        filters=[parse_filter_expression(f) for f in filters],
    )


bands_opt = click.option("--bands", "bands", default=None, metavar="B1,B2", help="Band names or aliases.")
filter_opt = click.option("--filter", "filters", multiple=True, metavar="EXPR",
                          help="Property filter, e.g. 'eo:cloud_cover<=50' (repeatable; all must hold).")


@click.group()
def catalog():
    """Collections, bands and items of the layer catalog."""


@catalog.command("list")
@catalog_opt
@json_opt
@click.pass_context
def list_collections(ctx, catalog, as_json):
    """List the collections you may use."""
    cat = _catalog(ctx, catalog)
    caller = caller_of(ctx)
    visible = cat.collections(caller)
    unsupported = cat.unsupported_for(caller)
    problems = cat.access_problems(caller)   # entries hidden from everyone: why, told to whom it concerns
    if as_json:
        click.echo(json.dumps({
            "collections": [{"id": c.id, "title": c.title, "bands": [b.name for b in c.bands],
                             "data_source": c.data_source.url} for c in visible],
            "unsupported": [{"id": u.id, "data_source_type": u.data_source_type} for u in unsupported],
        }, indent=2))
    else:
        for c in visible:
            click.echo(f"{c.id}\t{c.title}\t{len(c.bands)} bands")
        if unsupported:
            click.echo(f"\n{len(unsupported)} collections with unsupported data sources:")
            for u in unsupported:
                click.echo(f"{u.id}\t({u.data_source_type})")
    if problems:    # the list above is still right; the catalog needs fixing: a validation error (exit 2)
        for problem in problems[:-1]:
            click.echo(f"Error: {problem}", err=True)
        raise problems[-1]


@catalog.command()
@click.argument("collection_id")
@catalog_opt
@json_opt
@click.pass_context
def describe(ctx, collection_id, catalog, as_json):
    """Show one collection: extent, bands (aliases, nodata, scale) and data source."""
    from layercatalog.errors import format_bbox, format_interval

    c = _catalog(ctx, catalog).get(collection_id, caller_of(ctx))
    if as_json:
        doc = {k: v for k, v in dict(c.document).items() if k not in ("_sparkeo", "_vito")}
        doc["sparkeo:bands"] = [_band_json(b) for b in c.bands]
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"{c.id}: {c.title}")
    if c.description:
        click.echo(c.description)
    click.echo(f"extent: bbox {format_bbox(c.bbox)}, interval {format_interval(c.interval)}")
    click.echo(f"data source: {c.data_source.type} {c.data_source.url}")
    click.echo(f"scale/offset applied when reading: {'yes' if c.apply_scale else 'no'}")
    click.echo("bands:")
    for b in c.bands:
        names = ", ".join(dict.fromkeys(n for n in (b.common_name, *b.aliases) if n))
        extra = [f"nodata={b.nodata}" if b.nodata is not None else "", f"scale={b.scale:g}", f"offset={b.offset:g}",
                 "categorical" if b.categorical else "", b.dtype or "", f"[from {_origin(b)}]"]
        click.echo(f"  {b.name}" + (f" ({names})" if names else "") + "  " + " ".join(e for e in extra if e))


def _origin(band) -> str:
    """Where a band's description came from, as ``describe`` says it."""
    where = {"collection": "the collection document", "item_assets": "item_assets", "items": "the items"}[band.source]
    return where + (f", asset {band.asset!r} band {band.index}" if band.asset is not None else "")


def _band_json(band) -> dict:
    return {"name": band.name, "common_name": band.common_name, "aliases": list(band.aliases),
            "nodata": band.nodata, "scale": band.scale, "offset": band.offset, "data_type": band.dtype,
            "categorical": band.categorical, "source": band.source, "asset": band.asset, "index": band.index}


def _query_command(method: str):
    """A ``catalog`` subcommand named after the decorated printer: it parses a collection and the query
    options, runs the catalog's ``method`` (``search``/``summary``) for the caller and hands the answer
    and ``--json`` to the printer, whose docstring is the command's help."""
    def decorate(printer):
        @catalog.command(printer.__name__, help=printer.__doc__)
        @options(click.argument("collection_id"), catalog_opt, bbox_opt, bbox_crs_opt, time_opt, bands_opt,
                 filter_opt, json_opt)
        @click.pass_context
        def command(ctx, collection_id, catalog, bbox, bbox_crs, time, bands, filters, as_json):
            query = _query(collection_id, bbox, bbox_crs, time, bands, filters)
            printer(getattr(_catalog(ctx, catalog), method)(query, caller_of(ctx)), as_json)
        return command
    return decorate


@_query_command("search")
def search(items, as_json: bool) -> None:
    """Items of a collection in a bbox and time interval (start included, end excluded)."""
    if as_json:
        click.echo(json.dumps([_item_json(i) for i in items], indent=2))
        return
    for i in items:
        cc = i.properties.get("eo:cloud_cover")
        cloud = f"{cc:.1f}%" if isinstance(cc, (int, float)) else "-"
        click.echo(f"{i.id}\t{i.datetime.isoformat().replace('+00:00', 'Z')}\tcloud {cloud}\t{','.join(i.assets)}")
    click.echo(f"{len(items)} items")


@_query_command("summary")
def summary(result, as_json: bool) -> None:
    """Item count, dates, bands, coverage and estimated input pixels/bytes of a query."""
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    coverage = "-" if result.coverage is None else f"{result.coverage * 100:.1f}%"
    click.echo(f"collection:   {result.collection_id}")
    click.echo(f"interval:     {result.interval}")
    reported = "" if result.matched is None else f" (the STAC API reports {result.matched:,} matching)"
    click.echo(f"items:        {result.item_count}{reported}")
    click.echo(f"dates:        {', '.join(result.dates) or '-'}")
    click.echo(f"bands:        {', '.join(result.bands) or '-'}")
    click.echo(f"coverage:     {coverage} of the bbox")
    click.echo(f"input pixels: {result.input_pixels:,}")
    click.echo(f"input bytes:  {result.input_bytes:,} (estimated)")


@_query_command("count")
def count(matched: int, as_json: bool) -> None:
    """How many items a query matches; a STAC API's own count (numberMatched) without paging through them."""
    click.echo(json.dumps({"items": matched}) if as_json else str(matched))


def _item_json(item) -> dict:
    return {
        "id": item.id, "collection": item.collection_id,
        "datetime": item.datetime.isoformat().replace("+00:00", "Z"),
        "bbox": list(item.bbox), "properties": dict(item.properties),
        "assets": {name: {"href": a.href, "band_index": a.band_index, "crs": a.crs, "shape": list(a.shape),
                          "transform": list(a.transform), "nodata": a.nodata, "scale": a.scale,
                          "offset": a.offset, "dtype": a.dtype, "categorical": a.categorical}
                   for name, a in item.assets.items()},
    }


@catalog.command("add-stac")
@click.argument("url")
def add_stac(url):
    """Print layer catalog entries (a JSON list) for a STAC API collection URL
    (https://host/stac/collections/ID) or a static STAC catalog/collection (path or s3://), with
    the bands derived from item_assets and items; add them to layercatalog.json."""
    from layercatalog.catalog import layer_entries_for_stac

    click.echo(json.dumps(layer_entries_for_stac(url), indent=1))
