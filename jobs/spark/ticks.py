"""Per-tile progress while groups compute: a worker sends one UDP datagram per finished tile to the
driver, which counts the distinct tiles.

A task returns its group's tiles all at once (``jobs.spark.execute``), so counting returned tiles
moves in jumps of a group (``tiles 1/64`` then ``64/64`` in the same second). Spark's accumulators do
not help: their updates reach the driver with the finished task, not before. A datagram per tile is
fire-and-forget: a lost one (or a network that drops them) only delays the count until its group
returns, and never slows or fails a task. Retried tiles are counted once (the count is of distinct
tile indices).
"""
from __future__ import annotations

import logging
import socket
import threading
from typing import Callable

log = logging.getLogger(__name__)

_MAX_DATAGRAM = 512


class TileTicks:
    """The driver's side: a UDP socket and a thread counting distinct finished tiles of one job."""

    def __init__(self, key: str, on_count: Callable[[int], None], host: str = "0.0.0.0"):
        self.key = key
        self._on_count = on_count
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, 0))
        self._sock.settimeout(0.2)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="sparkeo-tile-ticks", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def mark(self, index) -> None:
        """A tile is known finished: its result arrived."""
        self._mark_name(repr(index))

    def _mark_name(self, name: str) -> None:
        with self._lock:
            if name in self._seen:
                return
            self._seen.add(name)
            count = len(self._seen)
        self._on_count(count)

    def _receive(self) -> None:
        prefix = self.key + " "
        while not self._closed.is_set():
            try:
                data = self._sock.recv(_MAX_DATAGRAM).decode("utf-8", "replace")
            except socket.timeout:
                continue
            except OSError:
                return
            if data.startswith(prefix):     # another job's (or a stray) datagram is ignored
                try:
                    self._mark_name(data[len(prefix):])
                except Exception as exc:    # a listener's failure must not stop the counting
                    log.debug("tile tick not counted: %s", str(exc) or repr(exc))

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=1.0)
        self._sock.close()


def sender(address: tuple[str, int] | None):
    """The worker's side: ``send(key, index)`` for one task, a no-op without an ``address``."""
    if address is None:
        return lambda key, index: None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(key: str, index) -> None:
        try:
            sock.sendto(f"{key} {index!r}".encode("utf-8")[:_MAX_DATAGRAM], address)
        except OSError:     # progress is best effort: the group's result counts the tile anyway
            pass
    return send
