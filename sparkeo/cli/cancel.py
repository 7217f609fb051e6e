"""``sparkeo cancel JOB``: delete the job's SparkApplication (the operator stops its pods)."""
from __future__ import annotations

import click

from sparkeo.cli.options import deployment_opt, kubeconfig_opt, namespace_opt
from sparkeo.cli.status import namespace_of


@click.command("cancel")
@click.argument("job_id")
@namespace_opt
@deployment_opt
@kubeconfig_opt
@click.pass_context
def cancel(ctx, job_id, namespace, deployment_config, kubeconfig):
    """Cancel JOB (exit 2 when it has no SparkApplication)."""
    from sparkapps import client, submit

    # The job registry (tracker) hooks in here through on_canceled=...
    last = submit.cancel(client.connect(kubeconfig), namespace_of(namespace, deployment_config), job_id)
    click.echo(f"{job_id}: canceled (was {last.state or 'NEW'})")
