"""Overview pyramids as pure computation: the levels' shapes and one 2 x 2 reduction step.

``jobs.results.cog`` stages and encodes the levels; the rules here are GDAL's, so a COG written by sparkeo
has the overviews GDAL's COG driver would have made (AVERAGE byte for byte, tests/jobs/results/test_cog.py).
"""
from __future__ import annotations

import math

import numpy as np


def overview_shapes(height: int, width: int, block: int) -> tuple[tuple[int, int], ...]:
    """(height, width) of the full resolution and of each overview: halved (rounding up) while
    either side exceeds one block, as GDAL's COG driver does."""
    shapes = [(height, width)]
    while max(shapes[-1]) > block:
        h, w = shapes[-1]
        shapes.append((-(-h // 2), -(-w // 2)))
    return tuple(shapes)


def reduce2x2(values: np.ndarray, nodata: float, method: str) -> np.ndarray:
    """One overview level from the one above: each output pixel from a 2 x 2 window of
    (height, width, bands) ``values``; windows past an odd edge hold fewer pixels. ``average``: the
    mean of the window's valid pixels (in float64, as GDAL's AVERAGE); ``mode``: its most frequent
    valid value, the first one seen (row-major) on a tie. Nodata (NaN included) is never counted; an
    all-nodata window is nodata."""
    h, w, b = values.shape
    padded = values
    if h % 2 or w % 2:
        padded = np.full((h + h % 2, w + w % 2, b), nodata, dtype=values.dtype)
        padded[:h, :w] = values
    windows = [padded[i::2, j::2] for i in (0, 1) for j in (0, 1)]
    valid = [~np.isnan(x) if math.isnan(nodata) else x != nodata for x in windows]
    if method == "average":
        total = np.zeros(windows[0].shape, np.float64)
        count = np.zeros(windows[0].shape, np.uint8)
        for x, v in zip(windows, valid):
            total += np.where(v, x, 0)
            count += v
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, nodata).astype(values.dtype)
    # mode: count, for each of the 4 candidates, how many valid window pixels equal it
    counts = np.stack([sum(((x == c) & v).astype(np.int8) for x, v in zip(windows, valid)) * vc
                       for c, vc in zip(windows, valid)])
    best = np.take_along_axis(np.stack(windows), np.argmax(counts, axis=0)[np.newaxis], axis=0)[0]
    return np.where(counts.max(axis=0) > 0, best, np.asarray(nodata, dtype=values.dtype))
