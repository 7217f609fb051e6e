"""``sparkeo run GRAPH``: run a process graph on local Spark (or ``--master``) and write its results."""
from __future__ import annotations

import sys
import time

import click

from sparkeo.cli.options import (caller_of, catalog_opt, job_id_opt, job_options_opt, master_opt, output_opt,
                                 settings_of)


def read_graph(graph: str) -> tuple[str, str]:
    """(text, name for messages) of GRAPH: a path, ``-`` for stdin, or an ``s3://`` URI."""
    from sparkeo import storage

    if graph == "-":   # read as bytes: a non-UTF-8 stdin is the user's error, not a decoding stack
        return storage.decode_text(sys.stdin.buffer.read(), "<stdin>"), "<stdin>"
    return storage.read_text(graph), graph


@click.command("run")
@click.argument("graph")
@catalog_opt
@output_opt
@job_id_opt
@master_opt
@job_options_opt
@click.option("--metrics-port", "metrics_port", type=int, default=None, metavar="PORT",
              help="Serve the job's sparkeo_job_* series on PORT while it runs [SPARKEO_METRICS_PORT; 0: off].")
@click.pass_context
def run(ctx, graph, catalog, output, job_id, master, job_options, metrics_port):
    """Run GRAPH (a path, - for stdin, or s3:// URI) and print the result paths."""
    from jobs.progress import JobProgress
    from jobs.run import run_job
    from sparkeo.names import new_job_id

    settings = settings_of(ctx).replace(spark_master=master, metrics_port=metrics_port)
    text, name = read_graph(graph)
    started = time.monotonic()
    job_id = job_id or new_job_id()
    with JobProgress.from_settings(settings, job_id, user=caller_of(ctx).user) as progress:   # bar on a terminal, log lines otherwise
        summary = run_job(text, output, job_id, catalog, job_options, settings, caller_of(ctx), source_name=name,
                          progress=progress)
    for path in summary.files:
        click.echo(path)
    usage = summary.usage
    click.echo(f"job {summary.job_id}: {usage['tiles']} tiles, {usage['input_pixels']:,} input pixels, "
               f"{usage['bytes_read']:,} bytes read, {usage['cpu_seconds']:.1f} CPU s, "
               f"{time.monotonic() - started:.1f} s", err=True)
