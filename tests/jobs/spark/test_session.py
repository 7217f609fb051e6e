"""jobs.spark.session: the Spark side of the speed-device settings (daemon, Unix sockets, C1-only driver JIT)."""
from __future__ import annotations

import os

from jobs.spark.session import DAEMON_MODULE, DRIVER_JIT, LOG4J2_PROPERTIES, speed_conf
from sparkeo.settings import Settings


def test_the_speed_devices_are_on_by_default():
    conf = speed_conf(Settings())
    assert conf["spark.python.daemon.module"] == DAEMON_MODULE
    assert conf["spark.python.unix.domain.socket.enabled"] == "true"
    assert conf["spark.driver.extraJavaOptions"].split() == [f"-Dlog4j2.configurationFile=file:{LOG4J2_PROPERTIES}",
                                                             DRIVER_JIT]


def test_each_device_turned_off_leaves_sparks_default_and_the_others_on():
    assert "spark.python.daemon.module" not in speed_conf(Settings(worker_daemon=False))
    assert "spark.python.unix.domain.socket.enabled" not in speed_conf(Settings(python_unix_sockets=False))
    no_jit = speed_conf(Settings(driver_c1_jit=False))
    assert DRIVER_JIT not in no_jit["spark.driver.extraJavaOptions"]
    assert "log4j2.configurationFile" in no_jit["spark.driver.extraJavaOptions"]      # logging stays
    assert no_jit["spark.python.daemon.module"] == DAEMON_MODULE


def test_the_log4j_configuration_exists():
    """A path to no file makes Spark fall back to its own profile: banner lines in every run."""
    assert os.path.isfile(LOG4J2_PROPERTIES) and "logger.spark.level = error" in open(LOG4J2_PROPERTIES).read()
