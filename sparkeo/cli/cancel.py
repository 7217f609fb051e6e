"""``sparkeo cancel JOB``: delete the job's SparkApplication (the operator stops its pods)."""
from __future__ import annotations

import click

from sparkeo.cli.jobs import open_registry
from sparkeo.cli.options import cluster_opts, job_id_arg


@click.command("cancel")
@job_id_arg
@cluster_opts
@click.pass_context
def cancel(ctx, job_id, namespace, deployment_config, kubeconfig):
    """Cancel JOB (again: "already canceled", exit 0; exit 2 when neither the cluster nor the registry
    knows it, or it already finished)."""
    from sparkapps import client
    from sparkeo.ops.connect import namespace_of
    from sparkeo.ops.cancel import cancel_job

    # The job registry (tracker), when ZooKeeper is configured, records the cancel.
    outcome = cancel_job(client.connect(kubeconfig), namespace_of(namespace, deployment_config), job_id,
                         open_registry(ctx, required=False))
    if outcome.already_canceled:
        click.echo(f"{job_id}: already canceled")
    elif outcome.had_application:
        click.echo(f"{job_id}: canceled (was {outcome.last_state or 'NEW'})")
    else:
        click.echo(f"{job_id}: canceled (it had no application)")
