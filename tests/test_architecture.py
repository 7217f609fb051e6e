"""Who may import whom (DESIGN.md, "The parts, and who may import whom"), checked on the source.

Every module of the five packages is parsed with ``ast``. Every import counts: at module level or
inside a function, under ``if TYPE_CHECKING``, absolute or relative, ``from sparkeo import cli``
(a module imported by name), and ``importlib.import_module``/``__import__`` of a literal name (in a
module that calls them, every string constant naming a module of the tree). The rules:

- ``sparkeo`` (the ground floor, all but ``sparkeo.cli`` and ``sparkeo.ops``) imports no domain package;
- ``layercatalog`` imports no other domain package; ``sparkapps`` neither;
- ``jobs`` imports ``layercatalog`` only, never ``sparkapps`` or ``tracker`` (a driver runs with
  no Kubernetes and no ZooKeeper);
- ``tracker`` imports ``sparkapps`` only;
- ``sparkeo.ops`` (the use cases: submit, cancel, status, results, render's preparation) may import
  every domain package, like the front ends: it wires them for one use case;
- only the front ends (``sparkeo.cli``, the web API ``sparkeo.api``) import ``sparkeo.ops``: no domain
  package and no ground-floor module does;
- the web API wires like the CLI (the use cases, the layer catalog, the registry, and ``jobs`` where the
  CLI imports it: ``jobs.run`` for runs and dry runs, the process listing, the error types), but never
  ``sparkapps`` directly: SparkApplications go through ``sparkeo.ops``;
- nothing imports ``sparkeo.cli`` or ``sparkeo.api`` (but ``sparkeo serve``, the command that starts
  the API), ``sparkeo.ops`` neither: a front end only parses, calls a use case and prints.

Inside ``jobs`` the subpackages are layers, each importing only those below it: ``jobs.errors`` <
``jobs.plan`` (grid, tiles, budgets: pure, no rasterio or pyspark) < ``jobs.cube`` (cube model and
reading) < ``jobs.vector`` (geometries, zonal statistics, polygon masks) < ``jobs.graph`` and ``jobs.processes`` (the language and its vocabulary: the parser checks
names against the process registry, processes evaluate callbacks) < ``jobs.results`` < ``jobs.spark``
(the Spark runtime behind ``execute(plan, sink)``); ``jobs.run``, ``jobs.main`` and
``jobs.progress`` on top wire them. Only ``jobs.spark`` and the entry points import pyspark.

``sparkeo.testing`` starts the real services of tests and benchmarks: no module imports it but its own,
and ``bench/`` imports nothing from ``tests/`` (both take their services from ``sparkeo.testing``).

The checker itself is tested on small trees written to ``tmp_path``, so it is known to fail when a
rule is broken.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLI = "sparkeo.cli"
API = "sparkeo.api"
OPS = "sparkeo.ops"
FRONT_ENDS = frozenset({CLI, API})
# the parts that wire the domain packages together and may import them all: the front ends and their use cases
WIRING = frozenset({CLI, API, OPS})
# the command that starts the web API: the one module outside it that imports it
SERVE_COMMAND = "sparkeo.cli.serve"
# what the web API must reach only through the use cases
API_MUST_NOT_IMPORT = frozenset({"sparkapps"})
GROUND = "sparkeo"
# The domain packages each part may import besides the ground floor (DESIGN.md); sparkeo.cli and
# sparkeo.ops may import all.
MAY_IMPORT: dict[str, frozenset[str]] = {
    GROUND: frozenset(),
    "layercatalog": frozenset(),
    "jobs": frozenset({"layercatalog"}),
    "sparkapps": frozenset(),
    "tracker": frozenset({"sparkapps"}),
}
DOMAIN = frozenset(MAY_IMPORT) - {GROUND}
# The layers inside jobs and what each may import of the others; modules directly in jobs/ (run, main,
# progress) wire the layers and may import them all.
JOBS_MAY_IMPORT: dict[str, frozenset[str]] = {
    "jobs.errors": frozenset(),
    "jobs.plan": frozenset({"jobs.errors"}),
    "jobs.cube": frozenset({"jobs.errors", "jobs.plan"}),
    # vector cubes: geometries in, zonal statistics per tile, polygon masks (over raster cubes)
    "jobs.vector": frozenset({"jobs.errors", "jobs.plan", "jobs.cube"}),
    "jobs.graph": frozenset({"jobs.errors", "jobs.plan", "jobs.cube", "jobs.processes"}),
    "jobs.processes": frozenset({"jobs.errors", "jobs.plan", "jobs.cube", "jobs.graph", "jobs.vector"}),
    "jobs.results": frozenset({"jobs.errors", "jobs.plan", "jobs.cube", "jobs.vector"}),
    # the runtime executes the DAG the language built; its worker daemon preloads the process modules
    "jobs.spark": frozenset({"jobs.errors", "jobs.plan", "jobs.cube", "jobs.vector", "jobs.graph", "jobs.processes",
                             "jobs.results"}),
}
# Libraries a layer must not import: planning is pure computation, and Spark stays behind jobs.spark.
JOBS_MUST_NOT_IMPORT: dict[str, frozenset[str]] = {
    "jobs.plan": frozenset({"rasterio", "pyspark", "kazoo", "kubernetes"}),
    **{layer: frozenset({"pyspark"}) for layer in ("jobs.errors", "jobs.cube", "jobs.vector", "jobs.graph",
                                                   "jobs.processes",
                                                   "jobs.results")},
}
DYNAMIC_IMPORTERS = {"import_module", "__import__"}


@dataclass(frozen=True)
class Import:
    """One module's import of another: where it stands, and the module imported."""

    module: str
    path: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.target}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """The part a module belongs to: ``sparkeo.cli``, ``sparkeo.api``, ``sparkeo.ops`` or its top-level package."""
    return next((part for part in WIRING if module == part or module.startswith(part + ".")), module.split(".")[0])


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of a relative ``from`` import (``level`` dots, then ``name``)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[:len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([name] if name else [])])


def imports_of(root: Path, path: Path, known: set[str]) -> list[Import]:
    """Every import in one file (see the module docstring for what counts)."""
    module = module_name(root, path)
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    dynamic = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = _absolute(module, path.name == "__init__.py", node.level, node.module)
            # ``from sparkeo import cli`` imports the module sparkeo.cli, not just an attribute of sparkeo
            found += [(node.lineno, f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
                      for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            dynamic = dynamic or name in DYNAMIC_IMPORTERS
    if dynamic:  # import_module(name) with the name in a constant anywhere in the module
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                target = node.value.split(":")[0]
                if target in known:
                    found.append((node.lineno, target))
    return [Import(module, path.relative_to(root), line, target) for line, target in found if target]


def scan(root: Path) -> list[Import]:
    """The imports of every module of the five packages below ``root``."""
    paths = [p for package in MAY_IMPORT for p in sorted((root / package).rglob("*.py"))]
    known = {module_name(root, p) for p in paths}
    return [imp for p in paths for imp in imports_of(root, p, known)]


@dataclass(frozen=True)
class Violation:
    """An import against the rules, and the rule it breaks."""

    imp: Import
    rule: str

    def __str__(self) -> str:
        return f"{self.imp} ({self.rule})"


TESTING = "sparkeo.testing"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> str | None:
    """The layer of a ``jobs`` module (``jobs.cube`` for ``jobs.cube.read``), None for the wiring on top."""
    parts = module.split(".")
    layer = ".".join(parts[:2])
    return layer if parts[0] == "jobs" and layer in JOBS_MAY_IMPORT else None


def violations(root: Path) -> list[Violation]:
    """Every import below ``root`` that breaks a rule."""
    out = []
    for imp in scan(root):
        source, target = part_of(imp.module), part_of(imp.target)
        layer, target_layer = layer_of(imp.module), layer_of(imp.target)
        if target in FRONT_ENDS and source != target and not (target == API and imp.module == SERVE_COMMAND):
            out.append(Violation(imp, f"nothing imports {target}"))
        elif source == API and target in API_MUST_NOT_IMPORT:
            out.append(Violation(imp, f"{API} reaches {target} through {OPS} only"))
        elif target == OPS and source not in WIRING:
            out.append(Violation(imp, f"only the front ends import {OPS}"))
        elif source not in WIRING and target in DOMAIN and target != source and target not in MAY_IMPORT[source]:
            allowed = ", ".join(sorted(MAY_IMPORT[source])) or "no domain package"
            out.append(Violation(imp, f"{source} may import {allowed}"))
        elif layer and target == "jobs" and target_layer != layer and target_layer not in JOBS_MAY_IMPORT[layer]:
            allowed = ", ".join(sorted(JOBS_MAY_IMPORT[layer])) or "no other layer of jobs"
            out.append(Violation(imp, f"{layer} may import {allowed}"))
        elif layer and imp.target.split(".")[0] in JOBS_MUST_NOT_IMPORT.get(layer, ()):
            out.append(Violation(imp, f"{layer} must not import {imp.target.split('.')[0]}"))
        elif _within(imp.target, TESTING) and not _within(imp.module, TESTING):
            out.append(Violation(imp, f"only tests and bench import {TESTING}"))
    return out


# -- the rules on this repository ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def repo_violations() -> list[Violation]:
    return violations(REPO)


@pytest.mark.parametrize("part", sorted(MAY_IMPORT))
def test_each_part_imports_only_what_the_design_allows(repo_violations, part):
    assert [str(v) for v in repo_violations if part_of(v.imp.module) == part and not layer_of(v.imp.module)] == []


@pytest.mark.parametrize("layer", sorted(JOBS_MAY_IMPORT))
def test_each_layer_of_jobs_imports_only_the_layers_below(repo_violations, layer):
    assert [str(v) for v in repo_violations if layer_of(v.imp.module) == layer] == []


@pytest.mark.parametrize("front_end", sorted(FRONT_ENDS))
def test_nothing_imports_a_front_end(repo_violations, front_end):
    assert [str(v) for v in repo_violations if part_of(v.imp.target) == front_end] == []


def test_only_the_front_ends_import_the_use_cases(repo_violations):
    assert [str(v) for v in repo_violations if part_of(v.imp.target) == OPS] == []


def test_the_scan_sees_every_package_and_imports_inside_functions():
    imports = scan(REPO)
    assert {part_of(i.module) for i in imports} == set(MAY_IMPORT) | WIRING
    # sparkeo/cli/render.py imports its use cases inside prepared_job and render only
    render = {i.target for i in imports if i.module == "sparkeo.cli.render"}
    assert {"sparkeo.ops.prepare", "sparkeo.ops.render"} <= render
    prepare = {i.target for i in imports if i.module == "sparkeo.ops.prepare"}
    assert {"jobs.graph.parse", "sparkapps.manifest"} <= prepare


# -- the checker fails when a rule is broken -------------------------------------------------------------
def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Empty packages for every part, plus ``files`` (path -> source)."""
    for package in [*MAY_IMPORT, "sparkeo/cli", "sparkeo/api", "sparkeo/ops", *(layer.replace(".", "/") for layer in JOBS_MAY_IMPORT
                                                   if layer != "jobs.errors")]:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    for name in ("sparkapps/client.py", "tracker/registry.py", "layercatalog/model.py", "sparkeo/storage.py",
                 "sparkeo/cli/main.py", "sparkeo/api/app.py", "sparkeo/ops/submit.py", "jobs/plan/grid.py", "jobs/cube/lazy.py", "jobs/results/writer.py",
                 "jobs/errors.py"):
        (root / name).write_text('"""stub"""\n')
    for name, source in files.items():
        (root / name).write_text(source)
    return root


ALLOWED_TREE = {
    "jobs/plan/planner.py": "from layercatalog.model import X\nfrom sparkeo import storage\nfrom . import grid\n",
    "tracker/track.py": "def f():\n    from sparkapps import client\n",
    "sparkeo/cli/run.py": "def run():\n    import jobs.plan.grid, tracker.registry, layercatalog.model\n"
                          "    from sparkeo.cli import main\n    from sparkeo.ops import submit\n",
    "sparkeo/cli/serve.py": "def serve():\n    from sparkeo.api import app\n",
    "sparkeo/api/routes.py": "from sparkeo.ops import submit\nfrom tracker import registry\nimport jobs.run\n"
                             "from layercatalog.model import X\nfrom sparkeo.api import app\n",
    "sparkeo/ops/cancel.py": "from sparkapps import client\nfrom tracker import registry\nimport jobs.plan.grid\n"
                             "from layercatalog.model import X\nfrom . import submit\n",
    "layercatalog/catalog.py": "import sparkeo.storage\nfrom .model import X\n",
    "jobs/cube/read.py": "import rasterio\nfrom jobs.plan.grid import TileGrid\nfrom jobs.errors import E\n",
    "jobs/spark/execute.py": "import pyspark\nfrom jobs.cube import lazy\n",
    "jobs/run.py": "from jobs.results.writer import W\nfrom jobs.spark import execute\n",
}


def test_a_tree_that_keeps_the_rules_has_no_violations(tmp_path):
    assert violations(write_tree(tmp_path, ALLOWED_TREE)) == []


@pytest.mark.parametrize("name, source, expected", [
    ("jobs/run.py", "def submit():\n    import sparkapps.client\n", "jobs.run imports sparkapps.client"),
    ("jobs/processes/x.py", "from ...tracker import registry\n", "jobs.processes.x imports tracker.registry"),
    ("jobs/typing_only.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tracker.registry import R\n",
     "jobs.typing_only imports tracker.registry"),
    ("jobs/lazy.py", "import importlib\nMODS = ('tracker.registry',)\nfor m in MODS:\n    importlib.import_module(m)\n",
     "jobs.lazy imports tracker.registry"),
    ("sparkeo/settings.py", "class S:\n    def load(self):\n        from layercatalog import model\n",
     "sparkeo.settings imports layercatalog.model"),
    ("layercatalog/items.py", "from jobs.plan.grid import TileGrid\n", "layercatalog.items imports jobs.plan.grid"),
    ("sparkapps/submit.py", "import tracker.registry as r\n", "sparkapps.submit imports tracker.registry"),
    ("tracker/lifecycle.py", "from jobs.plan import grid\n", "tracker.lifecycle imports jobs.plan.grid"),
    ("jobs/plan/tiles.py", "from jobs.cube.lazy import LazyCube\n", "jobs.plan.tiles imports jobs.cube.lazy"),
    ("jobs/cube/load.py", "def f():\n    from jobs.results import writer\n", "jobs.cube.load imports jobs.results.writer"),
    ("jobs/plan/grid.py", "import rasterio.warp\n", "jobs.plan.grid imports rasterio.warp"),
    ("jobs/results/cog.py", "from pyspark import SparkContext\n", "jobs.results.cog imports pyspark"),
    ("tracker/metrics.py", "from sparkeo import cli\n", "tracker.metrics imports sparkeo.cli"),
    ("sparkeo/logs.py", "from .cli.main import cli\n", "sparkeo.logs imports sparkeo.cli.main"),
    ("jobs/run.py", "def f():\n    from sparkeo.ops import submit\n", "jobs.run imports sparkeo.ops.submit"),
    ("tracker/track.py", "from sparkeo.ops.submit import submit_job\n", "tracker.track imports sparkeo.ops.submit"),
    ("sparkeo/settings.py", "from .ops import submit\n", "sparkeo.settings imports sparkeo.ops.submit"),
    ("sparkeo/ops/status.py", "from sparkeo.cli.main import cli\n", "sparkeo.ops.status imports sparkeo.cli.main"),
    ("sparkeo/api/server.py", "def f():\n    from sparkapps import client\n", "sparkeo.api.server imports sparkapps"),
    ("sparkeo/cli/run.py", "from sparkeo.api.app import create_app\n", "sparkeo.cli.run imports sparkeo.api.app"),
    ("tracker/track.py", "from sparkeo.api import app\n", "tracker.track imports sparkeo.api.app"),
], ids=["jobs-sparkapps-in-function", "jobs-tracker-relative", "jobs-tracker-type-checking",
        "jobs-tracker-import-module", "ground-floor-layercatalog", "layercatalog-jobs", "sparkapps-tracker",
        "tracker-jobs", "jobs-plan-above-its-layer", "jobs-cube-results-in-function", "jobs-plan-rasterio",
        "jobs-results-pyspark", "tracker-cli-by-name", "ground-floor-cli-relative", "jobs-ops-in-function",
        "tracker-ops", "ground-floor-ops-relative", "ops-cli", "api-sparkapps", "cli-api-not-serve",
        "tracker-api"])
def test_a_broken_rule_is_reported_with_its_place(tmp_path, name, source, expected):
    found = [str(v) for v in violations(write_tree(tmp_path, {**ALLOWED_TREE, name: source}))]
    assert len(found) == 1 and expected in found[0], found
    assert found[0].startswith(f"{name}:")


# -- sparkeo.testing and bench/ --------------------------------------------------------------------------
def test_bench_imports_nothing_from_tests():
    imports = [i for path in sorted((REPO / "bench").glob("*.py")) for i in imports_of(REPO, path, set())]
    assert imports and [str(i) for i in imports if i.target.split(".")[0] == "tests"] == []


def test_only_sparkeo_testing_imports_itself(repo_violations):
    assert [str(v) for v in repo_violations if _within(v.imp.target, TESTING)] == []


@pytest.mark.parametrize("name, source, expected", [
    ("jobs/run.py", "def f():\n    from sparkeo.testing.s3 import S3Server\n", "jobs.run imports sparkeo.testing.s3"),
    ("sparkeo/cli/run.py", "from sparkeo import testing\n", "sparkeo.cli.run imports sparkeo.testing"),
    ("sparkeo/storage.py", "from .testing import services\n", "sparkeo.storage imports sparkeo.testing"),
], ids=["jobs-in-function", "cli-by-name", "ground-floor-relative"])
def test_a_product_module_importing_sparkeo_testing_is_reported(tmp_path, name, source, expected):
    root = write_tree(tmp_path, ALLOWED_TREE)
    (root / "sparkeo" / "testing").mkdir()
    (root / "sparkeo" / "testing" / "__init__.py").write_text("")
    (root / "sparkeo" / "testing" / "fuse.py").write_text("from sparkeo.testing.services import start\nfrom . import s3\n")
    assert violations(root) == []  # sparkeo.testing may import itself
    (root / name).write_text(source)
    found = [str(v) for v in violations(root)]
    assert len(found) == 1 and expected in found[0] and "only tests and bench" in found[0], found
