"""``sparkeo processes [--json]``: the openEO processes sparkeo implements."""
from __future__ import annotations

import json

import click

from sparkeo.cli.options import json_opt


@click.command("processes")
@json_opt
def processes(as_json):
    """List the implemented openEO processes: id, specification (1.2.0, proposal, 2.0), summary."""
    from jobs.processes.listing import implemented

    found = implemented()
    if as_json:
        click.echo(json.dumps({"processes": [p.to_json() for p in found]}, indent=2))
        return
    width = max(len(p.id) for p in found)
    for p in found:
        click.echo(f"{p.id:<{width}}  {p.spec:<14}  {p.summary}")
    counts = {s: sum(p.spec == s for p in found) for s in dict.fromkeys(p.spec for p in found)}
    click.echo(f"{len(found)} processes: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
