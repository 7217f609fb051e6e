"""``sparkeo validate GRAPH``: parse, build and plan without Spark; print the dry-run plan."""
from __future__ import annotations

import json

import click

from sparkeo.cli.options import caller_of, catalog_opt, job_options_opt, json_opt, settings_of
from sparkeo.cli.run import read_graph
from sparkeo.geometry import crs_text


@click.command("validate")
@click.argument("graph")
@catalog_opt
@job_options_opt
@json_opt
@click.pass_context
def validate(ctx, graph, catalog, job_options, as_json):
    """Check GRAPH against the catalog and show what it would read (exit 2 on bad input)."""
    from jobs.run import load_catalog, parse_job_options, prepare

    settings = settings_of(ctx)
    text, name = read_graph(graph)
    options = parse_job_options(job_options)
    prep = prepare(text, load_catalog(catalog, settings), caller_of(ctx), settings, options, name)
    plan = prep.plan
    if as_json:
        click.echo(json.dumps({"valid": True, "graph_sha256": prep.graph_sha256, **plan.to_json(),
                               "item_ids": list(plan.item_ids)}, indent=2))
        return
    g = plan.grid
    rx, ry = g.resolution
    click.echo(f"valid: {name}")
    click.echo(f"grid: {crs_text(g.crs)}, {g.height}x{g.width} px, resolution {rx:g}x{ry:g}, bounds {tuple(round(v, 3) for v in g.bounds)}")
    layout = plan.layout
    th, tw = layout.tile
    click.echo(f"tiles: {len(plan.tasks)} to compute of {plan.tiles_total} ({th}x{tw} px)")
    if plan.halo != (0, 0):
        click.echo(f"halo: each tile also reads {plan.halo[0]} row(s) and {plan.halo[1]} column(s) around it "
                   "for neighbourhood processes (in the estimate below)")
    rh, rw = layout.region
    click.echo(f"tile plan: read regions of {rh}x{rw} px (each source window decoded once per region); "
               f"{layout.reason}")
    click.echo(f"source blocks seen: {', '.join(layout.blocks_seen) or 'none readable here'}")
    if layout.blocks_per_tile is not None:
        click.echo(f"source blocks decoded per tile, all assets: {layout.blocks_per_tile:g} "
                   f"(reading each tile's own windows: {layout.blocks_per_tile_unaligned:g})")
    for leaf in prep.leaves:
        labels = [s.label for s in leaf.slices]
        click.echo(f"load {leaf.node_id}: {leaf.collection.id}, {len(leaf.items)} items on {len(labels)} days "
                   f"({labels[0] if labels else '-'} .. {labels[-1] if labels else '-'}), "
                   f"bands {', '.join(b.name for b in leaf.bands)}")
    click.echo(f"estimated input: {plan.input_pixels:,} pixels, {plan.input_bytes:,} bytes (uncompressed), "
               f"~{plan.cpu_seconds:.1f} CPU s")
