"""The command group: lazy commands and the one place errors become exit codes."""
import click
import pytest
from click.testing import CliRunner

from sparkeo.cli import main as climain
from sparkeo.errors import RunError, UserError


@pytest.fixture
def boom_command(monkeypatch):
    @click.command("boom")
    @click.argument("kind")
    def boom(kind):
        if kind == "user":
            raise UserError("node 'x', argument 'y': bad")
        if kind == "run":
            raise RunError("s3://b/k.tif: unreadable")
        click.echo("fine")

    import types, sys
    mod = types.ModuleType("sparkeo_test_boom")
    mod.boom = boom
    monkeypatch.setitem(sys.modules, "sparkeo_test_boom", mod)
    monkeypatch.setitem(climain.COMMANDS, "boom", "sparkeo_test_boom:boom")
    return boom


@pytest.mark.parametrize("kind,code,text", [("user", 2, "node 'x'"), ("run", 1, "unreadable"), ("ok", 0, "fine")])
def test_errors_map_to_exit_codes_without_traceback(boom_command, kind, code, text):
    result = CliRunner().invoke(climain.cli, ["boom", kind])
    assert result.exit_code == code
    assert text in result.output
    assert "Traceback" not in result.output


def test_help_lists_only_built_commands():
    result = CliRunner().invoke(climain.cli, ["--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


JOB_ID_COMMANDS = [["run", "graph.json", "--job-id", "../../victim"], ["render", "graph.json", "--job-id", "a/b"],
                   ["submit", "graph.json", "--job-id", "Job_1"], ["status", "../x"], ["cancel", "x/.."],
                   ["jobs", "show", "../../x"]]


@pytest.mark.parametrize("args", JOB_ID_COMMANDS, ids=[" ".join(a[:2]) for a in JOB_ID_COMMANDS])
def test_every_command_checks_the_job_id_first(args):
    """One rule (sparkeo.names), checked while the arguments are parsed: before any file, cluster or JVM."""
    result = CliRunner().invoke(climain.cli, args, env={"SPARKEO_ZOOKEEPER": "127.0.0.1:9"})
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("Error: invalid job id ") and "Traceback" not in result.output
