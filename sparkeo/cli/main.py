"""The ``sparkeo`` command group: builds settings and caller once, maps errors to exit codes.

Commands live one per module (``sparkeo/cli/<command>.py``) and are imported lazily, so that
``sparkeo --help`` or ``sparkeo catalog list`` never starts a JVM or imports pyspark.
"""
from __future__ import annotations

import importlib
import sys

import click

from sparkeo import __version__, logs
from sparkeo.errors import SparkeoError
from sparkeo.identity import Caller
from sparkeo.settings import Settings

# command name -> "module:attribute"; one module per command.
COMMANDS = {
    "run": "sparkeo.cli.run:run",
    "validate": "sparkeo.cli.validate:validate",
    "catalog": "sparkeo.cli.catalog:catalog",
    "sample-data": "sparkeo.cli.sample_data:sample_data",
    "render": "sparkeo.cli.render:render",
    "submit": "sparkeo.cli.submit:submit",
    "status": "sparkeo.cli.status:status",
    "list": "sparkeo.cli.status:list_apps",
    "cancel": "sparkeo.cli.cancel:cancel",
    "results": "sparkeo.cli.results:results",
    "track": "sparkeo.cli.track:track",
    "jobs": "sparkeo.cli.jobs:jobs",
    "processes": "sparkeo.cli.processes:processes",
    "udf-runtimes": "sparkeo.cli.udf_runtimes:udf_runtimes",
    "serve": "sparkeo.cli.serve:serve",
}


class SparkeoGroup(click.Group):
    """Lazy command loading, and the one place where ``UserError``/``RunError`` become exit codes."""

    def list_commands(self, ctx):
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx, name):
        return self._load(name)

    @staticmethod
    def _load(name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # command not built yet
                return None
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SparkeoError as exc:
            # one line whatever the message quotes (a user's value may hold newlines)
            click.echo("Error: " + " ".join(str(exc).splitlines()), err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=SparkeoGroup)
@click.version_option(__version__, prog_name="sparkeo")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--user", envvar="SPARKEO_USER", default=None, help="Caller's user name [SPARKEO_USER].")
@click.option("--groups", envvar="SPARKEO_GROUPS", default=None, help="Caller's groups, comma list [SPARKEO_GROUPS].")
@click.pass_context
def cli(ctx, verbose, user, groups):
    """openEO process graphs over satellite imagery as PySpark batch jobs."""
    logs.configure(verbose)
    ctx.obj = {"settings": Settings.from_env(), "caller": Caller.from_values(user, groups), "verbose": verbose}


def main(argv=None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="sparkeo")


if __name__ == "__main__":
    main(sys.argv[1:])
