"""``sparkeo render GRAPH``: the job's SparkApplication as YAML on stdout (``| kubectl apply -f -``).

Also home of ``prepared_job``, which ``submit`` shares: the command-line arguments handed to the use
case ``sparkeo.ops.prepare.prepare_job``.
"""
from __future__ import annotations

import click

from sparkeo.cli.options import caller_of, job_spec_opts, settings_of
from sparkeo.cli.run import read_graph


def prepared_job(ctx, graph, catalog, output, job_id, job_options, deployment_config, namespace,
                 dry_run: bool = False):
    """``prepare_job`` for GRAPH as given on the command line (a path, ``-`` or an ``s3://`` URI)."""
    from sparkeo.ops.prepare import GraphSource, prepare_job

    text, name = read_graph(graph)
    return prepare_job(GraphSource.of(text, name), caller_of(ctx), settings_of(ctx), catalog=catalog, output=output,
                       job_id=job_id, job_options=job_options, deployment_config=deployment_config,
                       namespace=namespace, dry_run=dry_run)


@click.command("render")
@click.argument("graph")
@job_spec_opts
@click.pass_context
def render(ctx, graph, job_id, output, catalog, job_options, deployment_config, namespace):
    """Print GRAPH's SparkApplication as YAML (validated against the CRD schema)."""
    import yaml

    from sparkeo.ops.render import render_manifest

    prep = prepared_job(ctx, graph, catalog, output, job_id, job_options, deployment_config, namespace)
    doc = render_manifest(prep)
    if prep.uploads_graph:
        click.echo(f"# the driver reads the graph from {prep.job.graph_uri}: upload {prep.graph_name} there "
                   f"(sparkeo submit does)", err=True)
    click.echo(yaml.safe_dump(doc, sort_keys=False), nl=False)
