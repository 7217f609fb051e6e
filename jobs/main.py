"""The driver entry point: what a SparkApplication's ``mainApplicationFile`` runs.

``spark-submit jobs/main.py --graph URI --output URI --job-id ID [--catalog URI] [--job-options JSON]
[--user NAME] [--groups A,B]`` (also ``python -m jobs``). Everything comes from these arguments and
the environment; it never asks ZooKeeper or Kubernetes anything. Exit codes: 0 done, 2 the input is
wrong, 1 the run failed; errors are one line on stderr, no traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

if __package__ in (None, ""):
    # Run as a plain file (spark-submit jobs/main.py): make the project root importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="jobs/main.py", description="Run one sparkeo job (driver entry point).")
    p.add_argument("--graph", required=True, help="process graph: a path or s3:// URI")
    p.add_argument("--output", required=True, help="results location: a folder or s3:// prefix")
    p.add_argument("--job-id", required=True, help="job id (a Kubernetes name)")
    p.add_argument("--catalog", default=None, help="layer catalog URI [SPARKEO_CATALOG]")
    p.add_argument("--job-options", default=None, help="openEO job options, a JSON object")
    p.add_argument("--user", default=None, help="caller's user name [SPARKEO_USER]")
    p.add_argument("--groups", default=None, help="caller's groups, comma list [SPARKEO_GROUPS]")
    p.add_argument("--submitted-at", default=None, type=_epoch, metavar="ISO8601",
                   help="when the job was submitted (for sparkeo_job_queue_seconds)")
    p.add_argument("-v", "--verbose", action="count", default=0)
    return p.parse_args(argv)


def _epoch(text: str) -> float:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC) as epoch seconds."""
    import datetime as dt

    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()


def main(argv=None) -> int:
    """Run the job; returns the exit code (0, 1 or 2)."""
    args = parse_args(argv)
    from sparkeo import logs, storage
    from sparkeo.errors import SparkeoError
    from sparkeo.identity import Caller
    from sparkeo.names import check_job_id
    from sparkeo.settings import Settings

    logs.configure(args.verbose)
    try:
        check_job_id(args.job_id)       # first: it labels the metrics and names the default results folder
        from jobs.run import run_job

        settings = Settings.from_env()
        caller = Caller.from_values(args.user, args.groups)
        graph = storage.read_text(args.graph)
        from jobs.progress import JobProgress

        # sparkeo_job_* on SPARKEO_METRICS_PORT (0: off); plain progress lines in the driver log
        # the final values stay served until scraped once, SPARKEO_METRICS_LINGER seconds at most
        with JobProgress.from_settings(settings, args.job_id, bar=False, submitted_at=args.submitted_at,
                                       user=caller.user, linger=settings.metrics_linger) as progress:
            summary = run_job(graph, args.output, args.job_id, args.catalog, args.job_options, settings, caller,
                              source_name=args.graph, progress=progress)
    except SparkeoError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        _stop_spark()
    for path in summary.files:
        print(path)
    return 0


def _stop_spark() -> None:
    """Stop the session this process started (if any) so executors and the UI shut down cleanly."""
    if "pyspark" not in sys.modules:
        return
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # os._exit: spark-submit's Python process must not hang on a lingering JVM gateway thread.
    os._exit(code)
