"""``sparkeo jobs list|show``: the job registry in ZooKeeper, as the tracker keeps it.

Also home of ``open_registry``, the registry of a command invocation (``track``, ``submit`` and
``cancel`` use it too): ``sparkeo.ops.connect.open_registry`` with ``--zookeeper``, closed when the
command ends.
"""
from __future__ import annotations

import json
from datetime import datetime

import click

from sparkeo.cli.options import job_id_arg, json_opt, settings_of
from sparkeo.contracts import JobState

STATES = tuple(s.value for s in JobState)

zookeeper_opt = click.option("--zookeeper", "zookeeper", default=None, metavar="HOST:PORT[,…]",
                             help="ZooKeeper hosts of the job registry [SPARKEO_ZOOKEEPER].")


def open_registry(ctx: click.Context, zookeeper: str | None = None, required: bool = True):
    """A connected ``JobRegistry``, or ``None`` when no ZooKeeper is configured and not ``required``."""
    from sparkeo.ops import connect

    registry = connect.open_registry(settings_of(ctx), zookeeper, required)
    if registry is not None:
        ctx.call_on_close(registry.close)
    return registry


@click.group("jobs")
def jobs():
    """Jobs as the registry knows them (state, timings, usage, errors)."""


@jobs.command("list")
@click.option("--user", "user", default=None, help="Only this user's jobs [default: every user].")
@click.option("--status", "status", type=click.Choice(STATES), default=None, help="Only jobs in this state.")
@zookeeper_opt
@json_opt
@click.pass_context
def list_jobs(ctx, user, status, zookeeper, as_json):
    """List jobs, newest first."""
    from sparkeo.names import check_user_name

    if user is not None:    # checked before connecting: a bad name is the user's error, whatever ZooKeeper does
        check_user_name(user)
    records = open_registry(ctx, zookeeper).list(user=user, status=status)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in records], indent=2))
        return
    if not records:
        click.echo("no jobs", err=True)
        return
    rows = [("JOB", "USER", "STATUS", "CREATED", "DURATION")]
    rows += [(r.job_id, r.user, r.status.value, when(r.created), _duration(*_span(r))) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@jobs.command("show")
@job_id_arg
@click.option("--user", "user", default=None, help="The job's user [default: search every user].")
@zookeeper_opt
@json_opt
@click.pass_context
def show_job(ctx, job_id, user, zookeeper, as_json):
    """Show one job: record, timings, usage and error (exit 2 when unknown)."""
    from sparkeo.names import check_job_id, check_user_name

    check_job_id(job_id)
    if user is not None:
        check_user_name(user)
    record = open_registry(ctx, zookeeper).get(job_id, user)
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=2))
        return
    lines = [("job", record.job_id), ("user", record.user), ("status", record.status.value),
             ("namespace", record.namespace), ("application", record.app_name),
             ("results", record.results), ("spec", record.spec), ("title", record.title),
             ("created", when(record.created)), ("started", when(record.started)),
             ("finished", when(record.finished)), ("updated", when(record.updated)),
             ("queued for", _duration(record.created, record.started)),
             ("ran for", _duration(record.started, record.finished)),
             ("attempts", str(record.attempts)), ("application state", record.app_state),
             ("error", record.error)]
    for key, value in lines:
        if value not in (None, "", "-"):
            click.echo(f"{key + ':':<19}{value}")
    if record.usage:
        click.echo("usage:")
        for key in sorted(record.usage):
            click.echo(f"  {key + ':':<17}{_number(record.usage[key])}")


def when(t: datetime | None) -> str:
    """A record's timestamp as the registry commands print it (UTC, to the second; ``-``: none)."""
    return t.strftime("%Y-%m-%d %H:%M:%SZ") if t else "-"


def _span(record) -> tuple[datetime | None, datetime | None]:
    """From start (or creation, for a job that ended before it ran) to the end, for every ended job."""
    end = record.finished or (record.updated if record.is_final else None)
    return record.started or record.created, end


def _number(value: float) -> str:
    """Counters as they were counted: ``1310720`` not ``1.31072e+06``; fractions keep 6 digits."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.1f}"


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = int((end - start).total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
