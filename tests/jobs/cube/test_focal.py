"""Focal cubes computed tile by tile equal one whole-array computation (scipy.ndimage), for every
border rule and tile size; chunks with overlap likewise."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from jobs.cube.arraycube import ArrayCube
from jobs.cube.focal import (BORDER_MODES, Border, ChunkedCube, Chunking, FocalCube, gather, map_chunks)
from jobs.cube.lazy import TileContext, total_halo
from jobs.plan.grid import TileGrid, Window

GRID = TileGrid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 5100000.0), (23, 31))
# openEO border -> scipy.ndimage mode of the same rule
SCIPY_MODES = {"replicate": "nearest", "reflect": "reflect", "reflect_pixel": "mirror", "wrap": "grid-wrap"}


def _values(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 10, (2, 23, 31)).astype(np.float64)


def _cube(values) -> ArrayCube:
    return ArrayCube(values, ("t", "y", "x"), {"t": ("2021-06-01", "2021-06-11")}, GRID, working_dtype="float64")


def _tiled(cube, tile: int) -> np.ndarray:
    """The cube computed tile by tile, each tile with a fresh context as a Spark task would."""
    out = np.full(cube.meta.shape_for(cube.meta.grid), np.nan)
    for _, window, grid in cube.meta.grid.tiles(tile):
        out[..., window.slices[0], window.slices[1]] = cube.compute(grid, TileContext())
    return out


def _valid_correlate(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    ky, kx = weights.shape
    full = ndimage.correlate(values, weights[np.newaxis], mode="constant")
    return full[..., ky // 2:values.shape[-2] - ky // 2, kx // 2:values.shape[-1] - kx // 2]


WEIGHTS = np.arange(15, dtype=np.float64).reshape(3, 5) - 7      # asymmetric: catches a flipped kernel


@pytest.mark.parametrize("border", [0.0, 2.5, *BORDER_MODES])
@pytest.mark.parametrize("tile", [4, 7, 10, 64])
def test_kernel_tile_by_tile_equals_whole_array(border, tile):
    values = _values()
    rule = Border("constant", border) if isinstance(border, float) else Border(BORDER_MODES[border])
    cube = FocalCube("k", _cube(values).meta, _cube(values), (1, 2), rule, lambda v: _valid_correlate(v, WEIGHTS))
    if isinstance(border, float):
        expect = ndimage.correlate(values, WEIGHTS[np.newaxis], mode="constant", cval=border)
    else:
        expect = ndimage.correlate(values, WEIGHTS[np.newaxis], mode=SCIPY_MODES[border])
    np.testing.assert_allclose(_tiled(cube, tile), expect, rtol=0, atol=1e-9)


def test_gather_past_every_edge_matches_numpy_pad():
    values = _values()
    cube = _cube(values)
    for name, mode in BORDER_MODES.items():
        got = gather(cube, Window(-3, -4, 23 + 6, 31 + 8), TileContext(), Border(mode))
        np.testing.assert_array_equal(got, np.pad(values, ((0, 0), (3, 3), (4, 4)), mode=mode), err_msg=name)
    got = gather(cube, Window(20, 29, 5, 5), TileContext(), Border("constant", -1.0))
    assert np.all(got[..., 3:, :] == -1) and np.all(got[..., :, 2:] == -1)
    np.testing.assert_array_equal(got[..., :3, :2], values[..., 20:, 29:])


def _chunk_fn(values: np.ndarray, window: Window) -> np.ndarray:
    """Depends on the whole chunk (its overlap included) and on where it is: chunk mean + position."""
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.nanmean(values, axis=(-2, -1), keepdims=True) + window.row_off * 1000
                               + window.col_off, values.shape).copy()


@pytest.mark.parametrize("tile", [5, 8, 13, 64])
def test_map_chunks_is_independent_of_the_tile(tile):
    values = _values()
    cube = _cube(values)
    chunking = Chunking((8, 6), (2, 3))
    # reference: every chunk of the whole cube, its overlap NaN past the edges
    padded = np.pad(values, ((0, 0), (2, 2 + 8), (3, 3 + 6)), constant_values=np.nan)
    expect = np.empty_like(values)
    for r in range(0, 23, 8):
        for c in range(0, 31, 6):
            seen = padded[:, r:r + 12, c:c + 12]
            result = _chunk_fn(seen, Window(r - 2, c - 3, 12, 12))
            h, w = min(8, 23 - r), min(6, 31 - c)
            expect[:, r:r + h, c:c + w] = result[:, 2:2 + h, 3:3 + w]
    chunked = ChunkedCube("n", cube.meta, cube, chunking, lambda v, grid, ctx: _chunk_fn(v, Window(
        *GRID.offset_of(grid), *grid.shape)))
    np.testing.assert_allclose(_tiled(chunked, tile), expect, rtol=0, atol=1e-9)
    direct = map_chunks(lambda w: gather(cube, w, TileContext(), Border("constant", np.nan)), Window(0, 0, 23, 31),
                        chunking, _chunk_fn)
    np.testing.assert_allclose(direct, expect, rtol=0, atol=1e-9)


def test_halos_add_up_along_the_dag():
    cube = _cube(_values())
    inner = FocalCube("a", cube.meta, cube, (2, 2), Border(), lambda v: v[..., 2:-2, 2:-2])
    outer = FocalCube("b", cube.meta, inner, (1, 3), Border(), lambda v: v[..., 1:-1, 3:-3])
    assert total_halo(cube) == (0, 0)
    assert total_halo(outer) == (3, 5)
    assert total_halo(ChunkedCube("c", cube.meta, cube, Chunking((8, 6), (2, 3)), None)) == (9, 8)
