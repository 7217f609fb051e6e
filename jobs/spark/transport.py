"""How a tile's array travels from a Spark task back to the driver.

Two ways, chosen once per job by ``TileTransport.for_master`` (spill unless ``SPARKEO_SPILL_TILES``
is off):

- **inline** (any cluster): the array's bytes ride in the Spark task result, zlib level 1 when they
  cross a network. Spark moves a task result through the JVM at roughly 7 ms per MB on the
  benchmark machine (16 MB of 512 px float32 tiles: 0.11-0.17 s), on top of the tiles' compute.
- **spill** (``local`` and ``local[N]`` masters: one JVM): executors and the driver share one machine and one file system,
  so the task writes the raw array to a file in a folder the driver created and returns only its
  name; the driver reads it back (about 0.5 ms per MB from the page cache) and deletes it. The
  folder is removed with everything left in it (a killed task's file) when the job ends.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
import zlib
from dataclasses import dataclass

import numpy as np

DTYPE = np.float32
LOCAL_MASTER = re.compile(r"local(\[[^\]]*\])?")


@dataclass(frozen=True)
class PackedArray:
    """A float32 array on its way to the driver: inline bytes (maybe zlib) or a spill file's path."""

    shape: tuple[int, ...]
    payload: bytes = b""
    compressed: bool = False
    path: str | None = None

    def unpack(self) -> np.ndarray:
        """The array; a spill file is read once and deleted."""
        if self.path is not None:
            values = np.fromfile(self.path, dtype=DTYPE).reshape(self.shape)
            os.unlink(self.path)
            return values
        raw = zlib.decompress(self.payload) if self.compressed else self.payload
        return np.frombuffer(raw, dtype=DTYPE).reshape(self.shape)


@dataclass(frozen=True)
class TileTransport:
    """Inline (``compress`` when results cross a network) or spilled to ``spill_folder``."""

    compress: bool = True
    spill_folder: str | None = None

    @classmethod
    def for_master(cls, master: str, spill: bool = True) -> "TileTransport":
        """Spill on a ``local`` or ``local[...]`` master (one JVM) unless ``spill`` is off
        (``Settings.spill_tiles``), inline and compressed on any other, ``local-cluster[...]`` included:
        its executors are JVMs of their own, as on a cluster."""
        if not LOCAL_MASTER.fullmatch(str(master)):
            return cls(compress=True)
        if spill:
            return cls(compress=False, spill_folder=tempfile.mkdtemp(prefix="sparkeo-tiles-"))
        return cls(compress=False)

    def pack(self, values: np.ndarray, name: str) -> PackedArray:
        """Package ``values`` (float32, C-contiguous) for the driver; ``name`` makes spill files readable."""
        if self.spill_folder is not None:
            # unique per attempt: a retried or speculative task must not overwrite a file being read
            path = os.path.join(self.spill_folder, f"{name}-{uuid.uuid4().hex[:8]}.f32")
            values.tofile(path)
            return PackedArray(values.shape, path=path)
        payload = zlib.compress(values, 1) if self.compress else values.tobytes()
        return PackedArray(values.shape, payload, self.compress)

    def close(self) -> None:
        """Remove the spill folder and whatever is still in it (driver side, when the job ends)."""
        if self.spill_folder is not None:
            shutil.rmtree(self.spill_folder, ignore_errors=True)
