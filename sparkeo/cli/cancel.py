"""``sparkeo cancel JOB``: delete the job's SparkApplication (the operator stops its pods)."""
from __future__ import annotations

import click

from sparkeo.cli.options import cluster_opts, job_id_arg, namespace_of


@click.command("cancel")
@job_id_arg
@cluster_opts
@click.pass_context
def cancel(ctx, job_id, namespace, deployment_config, kubeconfig):
    """Cancel JOB (exit 2 when it has no SparkApplication)."""
    from sparkapps import client, submit
    from sparkapps.errors import SparkAppNotFound
    from sparkeo.cli.jobs import open_registry
    from tracker import lifecycle

    # The job registry (tracker), when ZooKeeper is configured, records the cancel.
    registry = open_registry(ctx, required=False)
    on_canceled = (lambda jid, _state: lifecycle.cancel(registry, jid)) if registry is not None else None
    try:
        last = submit.cancel(client.connect(kubeconfig), namespace_of(namespace, deployment_config), job_id,
                             on_canceled=on_canceled)
    except SparkAppNotFound:
        # no application (yet, or any more): a registered, unfinished job is still canceled
        if registry is None or lifecycle.cancel(registry, job_id) is None:
            raise
        click.echo(f"{job_id}: canceled (it had no application)")
        return
    click.echo(f"{job_id}: canceled (was {last.state or 'NEW'})")
