"""``sparkeo submit GRAPH``: check the graph, store it with the job spec, create the SparkApplication,
print the job id. Submitting the same ``--job-id`` again creates nothing and prints the same id."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import click

from sparkeo.cli.options import job_spec_opts, kubeconfig_opt
from sparkeo.cli.render import prepare_job


@click.command("submit")
@click.argument("graph")
@job_spec_opts
@kubeconfig_opt
@click.pass_context
def submit(ctx, graph, job_id, output, catalog, job_options, deployment_config, namespace, kubeconfig):
    """Submit GRAPH as a SparkApplication and print its job id."""
    from sparkapps import client, submit as submitting
    from sparkeo.cli.jobs import open_registry
    from sparkeo.errors import SparkeoError
    from tracker import lifecycle

    prep = prepare_job(ctx, graph, catalog, output, job_id, job_options, deployment_config, namespace,
                       dry_run=True)
    submitted_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    prep = dataclasses.replace(prep, job=dataclasses.replace(prep.job, submitted_at=submitted_at))
    api = client.connect(kubeconfig)
    # The job registry (tracker) when ZooKeeper is configured: record first, queued once created.
    registry = open_registry(ctx, required=False)
    if registry is not None:
        lifecycle.register(registry, prep.job, prep.deployment.namespace)
    try:
        done = submitting.submit(api, prep.job, prep.deployment,
                                 graph=None if prep.job.graph_uri == graph else prep.graph_doc,
                                 on_submitted=lifecycle.on_submitted(registry) if registry else None)
    except SparkeoError as exc:
        if registry is not None:
            lifecycle.submit_failed(registry, prep.job, str(exc))
        raise
    if not done.created:
        click.echo(f"job {prep.job.job_id} exists already; not submitted again", err=True)
    click.echo(prep.job.job_id)
