"""jobs.spark.session: the Spark side of the speed-device settings (daemon, Unix sockets, C1-only driver JIT,
the driver's G1 heap regions)."""
from __future__ import annotations

import os

from jobs.spark.session import DAEMON_MODULE, DRIVER_JIT, LOG4J2_PROPERTIES, driver_heap_regions, speed_conf
from sparkeo.settings import Settings


def test_the_speed_devices_are_on_by_default():
    conf = speed_conf(Settings())
    assert conf["spark.python.daemon.module"] == DAEMON_MODULE
    assert conf["spark.python.unix.domain.socket.enabled"] == "true"
    assert conf["spark.driver.extraJavaOptions"].split() == [f"-Dlog4j2.configurationFile=file:{LOG4J2_PROPERTIES}",
                                                             DRIVER_JIT, "-XX:G1HeapRegionSize=4m"]
    assert conf["spark.broadcast.blockSize"] == "1024k"


def test_each_device_turned_off_leaves_sparks_default_and_the_others_on():
    assert "spark.python.daemon.module" not in speed_conf(Settings(worker_daemon=False))
    assert "spark.python.unix.domain.socket.enabled" not in speed_conf(Settings(python_unix_sockets=False))
    no_jit = speed_conf(Settings(driver_c1_jit=False))
    assert DRIVER_JIT not in no_jit["spark.driver.extraJavaOptions"]
    assert "log4j2.configurationFile" in no_jit["spark.driver.extraJavaOptions"]      # logging stays
    assert no_jit["spark.python.daemon.module"] == DAEMON_MODULE
    no_regions = speed_conf(Settings(driver_heap_region_mb=0))
    assert "G1HeapRegionSize" not in no_regions["spark.driver.extraJavaOptions"]
    assert "spark.broadcast.blockSize" not in no_regions
    assert DRIVER_JIT in no_regions["spark.driver.extraJavaOptions"]
    assert speed_conf(Settings(driver_heap_region_mb=16))["spark.broadcast.blockSize"] == "4096k"


def test_the_drivers_per_job_buffers_are_not_humongous_in_its_jvm(spark):
    """G1 allocates an object of half a region or more in the old generation and may start a marking
    cycle at each one. Spark allocates a 1 MB buffer for every task it serializes and a block of
    ``spark.broadcast.blockSize`` for every broadcast (each stage's task binary): in the test session's
    driver JVM, as sparkeo launched it, both stay under half a region."""
    jvm = spark.sparkContext._jvm
    bean_class = jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean")
    diagnostics = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(bean_class)
    assert diagnostics.getVMOption("UseG1GC").getValue() == "true"
    region = int(diagnostics.getVMOption("G1HeapRegionSize").getValue())
    assert region == 4 << 20 and driver_heap_regions(4) in str(jvm.java.lang.management.ManagementFactory
                                                               .getRuntimeMXBean().getInputArguments())
    block = jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(
        spark.sparkContext.getConf().get("spark.broadcast.blockSize"))
    task_buffer = 1 << 20
    assert max(block, task_buffer) < region // 2


def test_the_log4j_configuration_exists():
    """A path to no file makes Spark fall back to its own profile: banner lines in every run."""
    assert os.path.isfile(LOG4J2_PROPERTIES) and "logger.spark.level = error" in open(LOG4J2_PROPERTIES).read()
