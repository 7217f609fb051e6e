"""``sparkeo render GRAPH``: the job's SparkApplication as YAML on stdout (``| kubectl apply -f -``).

Also home of ``prepare_job``, which ``submit`` shares: read and check the graph locally, merge job
options, and build the ``JobSpec`` and deployment settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from sparkeo.cli.options import caller_of, job_spec_opts, settings_of
from sparkeo.cli.run import read_graph


@dataclass(frozen=True)
class PreparedJob:
    """What ``render`` and ``submit`` need: the job, the deployment, and the graph document."""

    job: Any  # sparkapps.manifest.JobSpec
    deployment: Any  # sparkapps.deployment.DeploymentSettings
    graph_doc: dict
    graph_name: str


def prepare_job(ctx, graph, catalog, output, job_id, job_options, deployment_config, namespace,
                dry_run: bool = False) -> PreparedJob:
    """Check GRAPH locally (``ProcessGraph.parse``; with ``dry_run`` and a catalog, the full plan) and
    build the job. Raises ``UserError`` (exit 2) for a bad graph, options or job id."""
    import json

    from jobs.graph.parse import ProcessGraph
    from jobs.run import parse_job_options
    from sparkapps import deployment as deployments, names
    from sparkapps.manifest import JobSpec
    from sparkapps.submit import graph_location
    from sparkeo import storage

    settings, caller = settings_of(ctx), caller_of(ctx)
    text, name = read_graph(graph)
    parsed = ProcessGraph.parse(text, name)
    options = {**dict(parsed.job_options), **parse_job_options(job_options)}
    catalog = catalog or settings.catalog
    if dry_run and catalog:
        from jobs.run import load_catalog, prepare

        prepare(text, load_catalog(catalog, settings), caller, settings, options, name)
    deployment = deployments.load(deployment_config)
    if namespace:
        deployment = deployment.replace(namespace=namespace)
    job_id = names.check_job_id(job_id) if job_id else names.new_job_id()
    output = output or deployment.results_of(job_id)
    graph_uri = graph if storage.is_s3(graph) else graph_location(output)
    job = JobSpec(job_id=job_id, user=caller.user, groups=tuple(sorted(caller.groups)), graph_uri=graph_uri,
                  output_uri=output, catalog_uri=catalog, job_options=options)
    return PreparedJob(job, deployment, json.loads(text), name)


@click.command("render")
@click.argument("graph")
@job_spec_opts
@click.pass_context
def render(ctx, graph, job_id, output, catalog, job_options, deployment_config, namespace):
    """Print GRAPH's SparkApplication as YAML (validated against the CRD schema)."""
    import yaml

    from sparkapps import manifest, validate

    prep = prepare_job(ctx, graph, catalog, output, job_id, job_options, deployment_config, namespace)
    doc = manifest.render(prep.job, prep.deployment)
    validate.check(doc, validate.load_schema(prep.deployment.crd))
    if prep.job.graph_uri != graph:
        click.echo(f"# the driver reads the graph from {prep.job.graph_uri}: upload {prep.graph_name} there "
                   f"(sparkeo submit does)", err=True)
    click.echo(yaml.safe_dump(doc, sort_keys=False), nl=False)
