"""A real ZooKeeper server (the Debian ``zookeeper`` package) on a free loopback port.

``ZooKeeperServer`` runs ``org.apache.zookeeper.server.ZooKeeperServerMain`` with a generated
``zoo.cfg`` in a temporary folder and can be stopped and restarted on the same port and data
(fault tests).
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sparkeo.testing.services import ServiceStartError, free_port, start_service, stop_process

JAVA_DIR = Path("/usr/share/java")
JARS = ("zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-nop.jar")


class ZooKeeperServer:
    """One standalone ZooKeeper process; ``hosts`` is the connect string for clients."""

    def __init__(self, workdir: str | None = None, port: int | None = None, tick_ms: int = 500):
        missing = [j for j in JARS if not (JAVA_DIR / j).exists()]
        if missing or shutil.which("java") is None:
            raise ServiceStartError(f"ZooKeeper needs java and {missing} in {JAVA_DIR} "
                               "(scripts/install-debian.sh installs the zookeeper package)")
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="sparkeo-zk-"))
        self.port = port or free_port()
        self.tick_ms = tick_ms
        self.proc: subprocess.Popen | None = None
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        (self.workdir / "zoo.cfg").write_text(
            f"tickTime={tick_ms}\n"
            f"dataDir={self.workdir / 'data'}\n"
            f"clientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\n"
            "maxClientCnxns=0\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=ruok,srvr,mntr\n"
            # sessions of 1-20 s: lost sessions (fault tests) expire quickly
            f"minSessionTimeout={2 * tick_ms}\nmaxSessionTimeout=20000\n"
        )

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "ZooKeeperServer":
        """Start the server and wait until it serves requests."""
        classpath = ":".join(str(JAVA_DIR / j) for j in JARS)
        self.proc = start_service(
            ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath,
             "-Dzookeeper.jmx.log4j.disable=true",
             "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.workdir / "zoo.cfg")],
            self.workdir / "server.log", f"ZooKeeper on port {self.port}", self.ruok, timeout)
        return self

    def ruok(self) -> bool:
        """Whether the server serves requests (``srvr`` reports a mode; ``ruok`` says imok earlier)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                s.sendall(b"srvr")
                reply = b""
                while chunk := s.recv(4096):
                    reply += chunk
            return b"Mode: standalone" in reply
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (its data stays for a restart)."""
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def restart(self) -> "ZooKeeperServer":
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
