"""docker/: the image is consistent with the manifests and the requirement set CI installs.

Docker cannot build here, so this checks what a build would rely on: the driver file the manifest
names, the Python and Spark versions, the constraints file, the JMX exporter jar path, and the
entry point's spark-on-k8s commands.
"""
from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

from sparkapps.deployment import DeploymentSettings
from tests.shared_location import CHECKOUT

REPO = CHECKOUT
DOCKERFILE = (REPO / "docker" / "Dockerfile").read_text()
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"


def instructions(name: str) -> list[str]:
    """Arguments of every ``NAME`` instruction (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines()
            if line.strip().upper().startswith(name.upper() + " ")]


def arg_default(name: str) -> str:
    for arg in instructions("ARG"):
        key, _, value = arg.partition("=")
        if key.strip() == name:
            return value.strip()
    raise AssertionError(f"ARG {name} not in the Dockerfile")


def workdir() -> Path:
    (wd,) = instructions("WORKDIR")
    return Path(wd.strip())


def copies() -> dict[str, str]:
    """COPY destination (absolute, in the image) -> source (in the build context)."""
    out = {}
    for c in instructions("COPY"):
        parts = c.split()
        if parts[0].startswith("--"):
            continue
        *sources, dest = parts
        dest_path = dest if dest.startswith("/") else str(workdir() / dest)
        for src in sources:
            out[os.path.normpath(dest_path if len(sources) == 1 and not dest.endswith("/") else
                                 os.path.join(dest_path, Path(src).name))] = src
    return out


def image_to_repo(path_in_image: str) -> Path:
    """Where a path of the image comes from in the repository (longest COPY destination prefix)."""
    for dest, src in sorted(copies().items(), key=lambda kv: -len(kv[0])):
        if path_in_image == dest or path_in_image.startswith(dest + "/"):
            return REPO / src / os.path.relpath(path_in_image, dest)
    raise AssertionError(f"{path_in_image} is not copied into the image")


def constraint(name: str) -> str:
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(name.lower() + "=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError(f"{name} is not pinned in constraints.txt")


def test_the_driver_entry_point_the_manifest_names_is_in_the_image():
    main = DeploymentSettings().main_application_file
    assert main.startswith("local://")
    source = image_to_repo(main[len("local://"):])
    assert source == REPO / "jobs" / "main.py" and source.is_file()
    assert workdir() == Path("/opt/sparkeo")


def test_every_package_is_copied():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    packages = {p.strip() for p in cfg["options.packages.find"]["include"].split() if "*" not in p}
    copied = set(copies().values())
    assert packages <= copied, packages - copied
    for needed in ("setup.cfg", "pyproject.toml", "constraints.txt", "README.md"):
        assert needed in copied


def test_python_version_matches_setup_cfg_and_ci():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    image_python = tuple(int(x) for x in arg_default("PYTHON_VERSION").split("."))
    required = tuple(int(x) for x in cfg["options"]["python_requires"].strip().lstrip(">=").split("."))
    assert image_python >= required
    assert image_python == sys.version_info[:2]  # the interpreter CI runs the tests with
    assert instructions("FROM")[0].split()[0] == "${BASE}"
    assert arg_default("BASE") == "python:${PYTHON_VERSION}-slim-bookworm"


def test_spark_version_is_the_pinned_pyspark_everywhere():
    import pyspark
    import yaml

    pinned = constraint("pyspark")
    assert pyspark.__version__ == pinned
    assert DeploymentSettings().spark_version == pinned
    deploy = yaml.safe_load((REPO / "deploy" / "base" / "deployment.yaml").read_text())
    assert str(deploy["spark_version"]) == pinned
    # Spark in the image is the pyspark wheel installed with the constraints (SPARK_HOME -> it)
    (run,) = [r for r in instructions("RUN") if "pip install" in r]
    assert "-c constraints.txt" in run and "import os, pyspark" in run and "/opt/spark" in run
    assert "SPARK_HOME=/opt/spark" in " ".join(instructions("ENV"))


def test_the_image_installs_the_constraints_ci_installs():
    (run,) = [r for r in instructions("RUN") if "pip install" in r]
    assert re.search(r"pip install (--no-cache-dir )?-c constraints\.txt \.", run)
    makefile = (REPO / "Makefile").read_text()
    assert "pip install -q -c constraints.txt" in makefile


def test_jmx_exporter_jar_is_where_the_monitoring_block_looks():
    jar = DeploymentSettings().jmx_exporter_jar
    adds = instructions("ADD")
    assert any(a.split()[-1] == jar and "jmx_prometheus_javaagent" in a.split()[0] for a in adds)
    assert jar.startswith("/opt/spark/jars/")


def test_entry_point_is_the_shipped_script():
    assert copies()["/opt/entrypoint.sh"] == "docker/entrypoint.sh"
    assert instructions("ENTRYPOINT") == ['["/opt/entrypoint.sh"]']
    assert os.access(ENTRYPOINT, os.X_OK)


def run_entrypoint(*args, **env):
    return subprocess.run(["bash", str(ENTRYPOINT), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SPARK_HOME": "/opt/spark", **env})


def test_entrypoint_runs_other_commands_as_given():
    out = run_entrypoint(sys.executable, "-c", "import sys; print('hello', sys.argv[1:])", "a b")
    assert out.returncode == 0 and out.stdout.strip() == "hello ['a b']"


def test_entrypoint_driver_command_is_spark_submit_in_client_mode():
    out = run_entrypoint("driver", "--properties-file", "/opt/spark/conf/spark.properties",
                         "--class", "org.apache.spark.deploy.PythonRunner", "local:///opt/sparkeo/jobs/main.py",
                         "--graph", "s3://b/g.json", SPARKEO_ENTRYPOINT_DRY_RUN="1",
                         SPARK_DRIVER_BIND_ADDRESS="10.0.0.7")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "/opt/spark/bin/spark-submit", "--conf", "spark.driver.bindAddress=10.0.0.7",
        "--conf", "spark.executorEnv.SPARK_DRIVER_POD_IP=10.0.0.7", "--deploy-mode", "client",
        "--properties-file", "/opt/spark/conf/spark.properties", "--class", "org.apache.spark.deploy.PythonRunner",
        "local:///opt/sparkeo/jobs/main.py", "--graph", "s3://b/g.json"]


def test_entrypoint_executor_command_uses_the_spark_variables():
    env = dict(SPARKEO_ENTRYPOINT_DRY_RUN="1", JAVA_HOME="/usr/lib/jvm/java-17", SPARK_EXECUTOR_MEMORY="4g",
               SPARK_DRIVER_URL="spark://d:7078", SPARK_EXECUTOR_ID="3", SPARK_EXECUTOR_CORES="2",
               SPARK_APPLICATION_ID="spark-1", SPARK_EXECUTOR_POD_IP="10.0.0.9", SPARK_RESOURCE_PROFILE_ID="0",
               SPARK_EXECUTOR_POD_NAME="j-1-exec-3", SPARK_JAVA_OPT_0="-Dspark.driver.port=7078")
    out = run_entrypoint("executor", **env)
    assert out.returncode == 0, out.stderr
    cmd = out.stdout.splitlines()
    assert cmd[:4] == ["/usr/lib/jvm/java-17/bin/java", "-Dspark.driver.port=7078", "-Xms4g", "-Xmx4g"]
    assert "/opt/spark/jars/*" in cmd[cmd.index("-cp") + 1]
    backend = cmd.index("org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend")
    args = dict(zip(cmd[backend + 1::2], cmd[backend + 2::2]))
    assert args == {"--driver-url": "spark://d:7078", "--executor-id": "3", "--cores": "2", "--app-id": "spark-1",
                    "--hostname": "10.0.0.9", "--resourceProfileId": "0", "--podName": "j-1-exec-3"}


def test_entrypoint_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(ENTRYPOINT)]).returncode == 0


def test_the_shipped_crd_schema_is_package_data():
    """A non-editable install (the image) must carry sparkapps/crd/*.json."""
    from sparkapps.validate import SHIPPED_CRD

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    patterns = [p.strip() for p in cfg["options.package_data"]["sparkapps"].split(",")]
    shipped = {path for pattern in patterns for path in (REPO / "sparkapps").glob(pattern)}
    assert SHIPPED_CRD in shipped
