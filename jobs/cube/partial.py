"""The first rows of a compressed source block without decoding the rest of it.

A focal process reads a halo of a few pixels into the neighbouring source blocks, and GDAL decodes a
block whole even for one row of it: on 1024 px blocks, the halo strip along a task's lower edge costs
its neighbour's whole blocks. A DEFLATE stream, though, inflates from its start: the *top* rows of a
block come from the first bytes of its compressed data, a row's worth of work per row. The plan puts
the halo strips of task boundaries at the top of the blocks below (``jobs.plan.blocks.TileLayout.
with_halo``), and ``top_rows`` reads them so.

Only the plain cases are done here (a local file, DEFLATE, no predictor or horizontal differencing
of integers, little-endian, one band per block); anything else returns None and the caller decodes
the block whole with GDAL, so the values are GDAL's either way.
"""
from __future__ import annotations

import zlib

import numpy as np

# compressed bytes read first: the rows' share of the block's compressed size, twice over, plus this
# slack (the zlib header, a deflate block's code tables); doubled while the inflated rows fall short
READ_SLACK = 4096


def top_rows(src, band: int, block: tuple[int, int], block_shape: tuple[int, int], rows: int) -> np.ndarray | None:
    """The first ``rows`` rows of block ``block`` (block row, block col) of band ``band`` of the open
    dataset ``src`` (the block's full width, the file's dtype), or None when this file's layout is not
    one this module inflates itself."""
    layout = _layout(src, band)
    if layout is None:
        return None
    predictor, dtype = layout
    offset = src.get_tag_item(f"BLOCK_OFFSET_{block[1]}_{block[0]}", "TIFF", bidx=band)
    size = src.get_tag_item(f"BLOCK_SIZE_{block[1]}_{block[0]}", "TIFF", bidx=band)
    if not offset or not size:          # a sparse (unwritten) block: GDAL fills it
        return None
    width = block_shape[1]
    want = rows * width * dtype.itemsize
    first = int(want * int(size) / (block_shape[0] * width * dtype.itemsize) * 2) + READ_SLACK
    raw = _inflate(src.name, int(offset), int(size), want, first)
    if raw is None:
        return None
    out = np.frombuffer(raw, dtype=dtype).reshape(rows, width)
    if predictor == 2:                  # horizontal differencing: each row's running sum, modulo the dtype
        out = np.cumsum(out, axis=1, dtype=dtype)
    return out.copy() if not out.flags.writeable else out


def _layout(src, band: int) -> tuple[int, np.dtype] | None:
    name = str(src.name)
    if name.startswith("/vsi") or "://" in name or src.driver != "GTiff":
        return None
    structure = src.tags(ns="IMAGE_STRUCTURE")
    if structure.get("COMPRESSION", "").upper() != "DEFLATE":
        return None
    if src.count > 1 and structure.get("INTERLEAVE", "").upper() != "BAND":
        return None
    predictor = int(structure.get("PREDICTOR", 1))
    dtype = np.dtype(src.dtypes[band - 1]).newbyteorder("<")
    if predictor not in (1, 2) or (predictor == 2 and dtype.kind not in "iu") or dtype.kind not in "iuf":
        return None
    if src.get_tag_item("NBITS", "IMAGE_STRUCTURE", bidx=band) not in (None, str(dtype.itemsize * 8)):
        return None
    with open(name, "rb") as f:
        if f.read(2) != b"II":          # big-endian TIFF: leave it to GDAL
            return None
    return predictor, dtype


def _inflate(path: str, offset: int, size: int, want: int, first: int) -> bytes | None:
    """The first ``want`` bytes of the zlib stream at ``offset`` (``size`` bytes) of ``path``, reading
    ``first`` bytes of it first."""
    inflater = zlib.decompressobj()
    out = b""
    with open(path, "rb") as f:
        f.seek(offset)
        chunk, left = first, size
        while len(out) < want and left > 0:
            data = f.read(min(chunk, left))
            left -= len(data)
            try:
                out += inflater.decompress(data, want - len(out))
            except zlib.error:
                return None
            while inflater.unconsumed_tail and len(out) < want:
                out += inflater.decompress(inflater.unconsumed_tail, want - len(out))
            chunk *= 2
    return out[:want] if len(out) >= want else None
