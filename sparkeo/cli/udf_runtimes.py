"""``sparkeo udf-runtimes [--json]``: the UDF runtimes, their Python version and the libraries a UDF may import."""
from __future__ import annotations

import json

import click

from sparkeo.cli.options import json_opt


@click.command("udf-runtimes")
@json_opt
def udf_runtimes(as_json):
    """List the UDF runtimes (openEO ``/udf_runtimes``): Python, its version, the importable libraries."""
    from jobs.processes.udfruntime import python_runtime

    runtime = python_runtime()
    if as_json:
        click.echo(json.dumps(runtime.to_json(), indent=2))
        return
    click.echo(f"{runtime.name} {runtime.version} (default)")
    width = max(len(name) for name, _ in runtime.libraries)
    for name, version in runtime.libraries:
        click.echo(f"  {name:<{width}}  {version}")
