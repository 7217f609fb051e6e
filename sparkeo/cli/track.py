"""``sparkeo track``: one tracker pass, the job-tracker CronJob's command.

Exit codes: 0 when the pass completed or another pass holds the lock (it says so); 1 when the
registry was unreachable or lost mid-pass, or a namespace could not be listed.
"""
from __future__ import annotations

import json
import logging

import click

from sparkeo.cli.jobs import open_registry, zookeeper_opt
from sparkeo.cli.options import json_opt, kubeconfig_opt, settings_of
from sparkeo.errors import RunError

log = logging.getLogger(__name__)


class TrackError(RunError):
    """Raised when a pass completed only partly (namespaces it could not list)."""

    def __init__(self, namespaces: tuple[str, ...]):
        super().__init__(f"tracker pass incomplete: cannot list SparkApplications in namespace(s) "
                         f"{', '.join(namespaces)}", namespaces=namespaces)


@click.command("track")
@zookeeper_opt
@click.option("--namespace", "-n", "namespaces", multiple=True,
              help="Track the jobs of this namespace (repeatable) [default: SPARKEO_NAMESPACE].")
@click.option("--all-namespaces", "-A", is_flag=True,
              help="Track the jobs of every namespace that has ongoing jobs.")
@kubeconfig_opt
@click.option("--missing-grace", type=float, default=600.0, show_default=True,
              help="Seconds a job's application may be missing before the job is marked error.")
@click.option("--max-duration", type=float, default=48 * 3600.0, show_default=True,
              help="Seconds a job may run (unless its record says otherwise) before it is canceled.")
@click.option("--stuck-after", type=float, default=1800.0, show_default=True,
              help="Seconds in SUCCEEDING/FAILING after which an application is reported stuck.")
@click.option("--retention-days", type=float, default=30.0, show_default=True,
              help="Done records older than this are archived to their results and pruned (0: never).")
@click.option("--pushgateway", default=None, metavar="HOST:PORT",
              help="Prometheus Pushgateway for the pass figures [SPARKEO_PUSHGATEWAY].")
@json_opt
@click.pass_context
def track(ctx, zookeeper, namespaces, all_namespaces, kubeconfig, missing_grace, max_duration, stuck_after, retention_days,
          pushgateway, as_json):
    """Run one tracker pass: bring the job registry in step with the SparkApplications."""
    from sparkapps import client
    from tracker import metrics
    from tracker.track import JobTracker, TrackerConfig

    settings = settings_of(ctx)
    registry = open_registry(ctx, zookeeper)
    api = client.connect(kubeconfig)
    config = TrackerConfig(
        namespaces=None if all_namespaces else frozenset(namespaces or [settings.namespace]),
        prefetch_namespaces=frozenset({settings.namespace}),
        missing_grace=missing_grace, max_duration=max_duration,
        stuck_after=stuck_after, retention_days=retention_days or None,
    )
    gateway = pushgateway or settings.pushgateway
    forget = (lambda record: metrics.forget_job(gateway, record)) if gateway else None
    report = JobTracker(registry, api.list_states, api.delete, config, forget_metrics=forget).run_pass()
    if gateway:
        try:
            metrics.push(report, gateway)
        except Exception as exc:  # the pass did its work; say loudly that monitoring missed it
            click.echo(f"Warning: pass figures not pushed to {gateway}: {str(exc) or repr(exc)}", err=True)
    if as_json:
        click.echo(json.dumps(report.to_json()))
    elif report.lock_held:
        click.echo("another tracker pass holds the lock; nothing done")
    else:
        moves = ", ".join(f"{k} {n}" for k, n in sorted(report.transitions.items())) or "none"
        errors = ", ".join(f"{k} {n}" for k, n in sorted(report.errors.items())) or "none"
        click.echo(f"{report.jobs} ongoing jobs in {report.seconds:.2f} s; transitions: {moves}; "
                   f"missing {report.apps_missing}, stuck {report.apps_stuck}, "
                   f"overdue canceled {report.overdue_canceled}; errors: {errors}")
    if report.failed_namespaces:
        raise TrackError(report.failed_namespaces)
