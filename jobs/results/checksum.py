"""The ``file:checksum`` of a results file (STAC file extension): what the writer records and a
download verifies, computed in one place."""
from __future__ import annotations

import hashlib
from typing import Iterable

# multihash prefix of a sha2-256 digest: function code 0x12, digest length 0x20
SHA256_MULTIHASH_PREFIX = "1220"


def multihash_sha256(path: str) -> str:
    """The ``file:checksum`` of a file: sha2-256 multihash (code 0x12, length 0x20) in hex."""
    with open(path, "rb") as fh:
        return multihash_of(iter(lambda: fh.read(1 << 20), b""))


def multihash_of(chunks: Iterable[bytes]) -> str:
    """The ``file:checksum`` of the bytes ``chunks`` hold one after the other."""
    h = hashlib.sha256()
    for block in chunks:
        h.update(block)
    return SHA256_MULTIHASH_PREFIX + h.hexdigest()
