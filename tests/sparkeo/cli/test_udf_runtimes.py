"""``sparkeo udf-runtimes [--json]``: the Python runtime and the libraries a UDF may import."""
import json
import platform

from click.testing import CliRunner

from sparkeo.cli import main as climain


def test_json_is_the_openeo_udf_runtimes_document():
    result = CliRunner().invoke(climain.cli, ["udf-runtimes", "--json"])
    assert result.exit_code == 0, result.output
    python = json.loads(result.output)["Python"]
    libraries = python["versions"][platform.python_version()]["libraries"]
    assert python["type"] == "language" and python["default"] == platform.python_version()
    assert {"numpy", "xarray", "pandas", "scipy"} <= set(libraries)


def test_text_lists_the_version_and_each_library():
    result = CliRunner().invoke(climain.cli, ["udf-runtimes"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Python {platform.python_version()} (default)"
    assert any(line.split()[0] == "scipy" for line in lines[1:])
