"""``sparkeo submit GRAPH``: check the graph, store it with the job spec, create the SparkApplication,
print the job id. Submitting the same ``--job-id`` again creates nothing and prints the same id."""
from __future__ import annotations

import click

from sparkeo.cli.jobs import open_registry
from sparkeo.cli.options import job_spec_opts, kubeconfig_opt
from sparkeo.cli.render import prepared_job


@click.command("submit")
@click.argument("graph")
@job_spec_opts
@kubeconfig_opt
@click.pass_context
def submit(ctx, graph, job_id, output, catalog, job_options, deployment_config, namespace, kubeconfig):
    """Submit GRAPH as a SparkApplication and print its job id."""
    from sparkapps import client
    from sparkeo.ops.submit import submit_job

    prep = prepared_job(ctx, graph, catalog, output, job_id, job_options, deployment_config, namespace,
                        dry_run=True)
    api = client.connect(kubeconfig)
    # The job registry (tracker) when ZooKeeper is configured: record first, queued once created.
    outcome = submit_job(prep, api, open_registry(ctx, required=False))
    if not outcome.created:
        click.echo(f"job {outcome.job_id} exists already; not submitted again", err=True)
    click.echo(outcome.job_id)
