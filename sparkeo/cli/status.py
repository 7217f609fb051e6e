"""``sparkeo status JOB`` and ``sparkeo list``: what the spark-operator says about jobs."""
from __future__ import annotations

import json

import click

from sparkeo.cli.options import caller_of, cluster_opts, job_id_arg, json_opt


@click.command("status")
@job_id_arg
@cluster_opts
@json_opt
@click.pass_context
def status(ctx, job_id, namespace, deployment_config, kubeconfig, as_json):
    """Show the state of JOB: its SparkApplication's, or the job registry's once the application is
    gone (exit 2 when neither knows it)."""
    from sparkapps import client
    from sparkeo.cli.jobs import open_registry, when
    from sparkeo.ops.connect import namespace_of
    from sparkeo.ops.status import describe_job

    found = describe_job(client.connect(kubeconfig), namespace_of(namespace, deployment_config), job_id,
                         open_registry(ctx, required=False))
    if as_json:
        click.echo(json.dumps(found.app.to_json() if found.app is not None else found.to_json(), indent=2))
        return
    if found.app is None:
        record = found.record
        click.echo(f"{job_id}: {record.status.value} (registry; the application is gone)")
        for label, value in (("user", record.user), ("finished", record.finished and when(record.finished)),
                             ("error", record.error)):
            if value:
                click.echo(f"  {label}: {value}")
        return
    state = found.app
    click.echo(f"{state.job_id}: {state.state or 'NEW'}")
    rows = [("user", state.user), ("spark application", state.spark_application_id),
            ("submitted", state.submitted), ("terminated", state.terminated), ("error", state.error_message)]
    if found.record is not None:
        rows.append(("registry", found.record.status.value))
    for label, value in rows:
        if value:
            click.echo(f"  {label}: {value}")


@click.command("list")
@click.option("--all-users", is_flag=True, help="Every user's jobs, not just the caller's.")
@cluster_opts
@json_opt
@click.pass_context
def list_apps(ctx, all_users, namespace, deployment_config, kubeconfig, as_json):
    """List the caller's jobs (or everyone's) with their states, oldest first."""
    from sparkapps import client
    from sparkeo.ops.connect import namespace_of
    from sparkeo.ops.status import list_jobs

    rows = list_jobs(client.connect(kubeconfig), namespace_of(namespace, deployment_config),
                     None if all_users else caller_of(ctx).user)
    if as_json:
        click.echo(json.dumps([s.to_json() for s in rows], indent=2))
        return
    for s in rows:
        click.echo(f"{s.job_id}\t{s.state or 'NEW'}\t{s.user or '-'}\t{s.created or '-'}")
