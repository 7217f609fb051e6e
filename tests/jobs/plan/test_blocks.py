"""jobs.plan.blocks: the tile plan chosen from the inputs' block layout (pure), and tasks owning regions."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.plan.blocks import DEFAULT_TILE, SourceBlocks, TileLayout, choose_layout
from jobs.spark.execute import tile_groups
from jobs.plan.grid import TileGrid
from jobs.plan.planner import ItemFootprint, plan_tiles

RES = 10.0


def grid(size=2048, x0=500000.0, y0=5100000.0, res=RES):
    return TileGrid("EPSG:32633", (res, 0.0, x0, 0.0, -res, y0), (size, size))


def source(block, size=2048, assets=36, itemsize=2, **kw):
    return SourceBlocks(grid(size, **kw), block, itemsize, assets)


def covers_once(g: TileGrid, layout: TileLayout) -> bool:
    """Every pixel of ``g`` is in exactly one tile, and every tile inside its region."""
    seen = np.zeros(g.shape, dtype=int)
    for region in layout.regions(g):
        for t in layout.tiles(region):
            assert region.row_off <= t.row_off and t.row_off + t.height <= region.row_off + region.height
            assert region.col_off <= t.col_off and t.col_off + t.width <= region.col_off + region.width
            seen[t.slices] += 1
    return bool((seen == 1).all())


@pytest.mark.parametrize("block, region, per_tile", [
    ((256, 256), (256, 256), 30.0),         # sparkeo's own layout: one block per asset and tile
    ((512, 512), (512, 512), 7.5),          # GDAL COG driver default
    ((1024, 1024), (1024, 1024), 1.875),    # public Sentinel-2 L2A COGs
    ((2048, 2048), (2048, 2048), 0.46875),
    ((2, 2048), (256, 2048), 30 * 128 / 8),  # GDAL's default strips (8 KB): whole rows of the grid
], ids=["256", "512", "1024", "2048", "strip"])
def test_regions_follow_the_blocks_and_tiles_stay_small(block, region, per_tile):
    # 10 dates x 3 bands
    layout = choose_layout(grid(), [source(block, assets=30)])
    assert layout.tile == (DEFAULT_TILE, DEFAULT_TILE)
    assert layout.region == region and layout.phase == (0, 0)
    assert layout.blocks_per_tile == pytest.approx(per_tile, abs=1e-3)
    # reading each 256 px tile's own window decodes every block it touches once per tile
    assert layout.blocks_per_tile_unaligned == pytest.approx(30.0 if block[0] > 2 else 30 * 128)
    assert covers_once(grid(), layout)


def test_a_bbox_that_cuts_blocks_moves_the_region_edges_onto_block_edges():
    # the output grid starts 100 px right of and 300 px below the source's corner
    g = TileGrid("EPSG:32633", (RES, 0.0, 500000.0 + 100 * RES, 0.0, -RES, 5100000.0 - 300 * RES), (1500, 1700))
    layout = choose_layout(g, [source((1024, 1024))])
    assert layout.region == (1024, 1024)
    assert layout.phase == (1024 - 300, 1024 - 100)
    starts = sorted({(r.row_off, r.col_off) for r in layout.regions(g)})
    assert starts == [(0, 0), (0, 924), (724, 0), (724, 924)]
    tiles = sum(1 for r in layout.regions(g) for _ in layout.tiles(r))
    assert layout.blocks_per_tile * tiles == pytest.approx(4 * 36, abs=0.1)     # each block once
    assert covers_once(g, layout)


def test_tile_size_option_fixes_the_tile_and_regions_still_follow_the_blocks():
    layout = choose_layout(grid(), [source((1024, 1024))], tile_size=96)
    assert layout.tile == (96, 96) and layout.region == (1024, 1024)
    assert covers_once(grid(), layout)
    plain = choose_layout(grid(), [], tile_size=96)
    assert plain.region == plain.tile == (96, 96) and "no source block layout" in plain.reason


def test_region_memory_is_capped_by_the_task_not_the_scene():
    # 100 dates x 3 bands of 4096 px blocks would be 9.4 GB of windows per region
    big = choose_layout(grid(8192), [source((4096, 4096), size=8192, assets=300)])
    assert big.region[0] * big.region[1] * 2 * 300 <= 256 << 20
    assert "capped" in big.reason


def test_coarser_sources_have_their_block_footprint_on_the_output_grid():
    # 20 m bands with 512 px blocks under a 10 m output grid: 1024 output px per block
    layout = choose_layout(grid(), [source((512, 512), size=1024, res=20.0, assets=40),
                                    source((1024, 1024), assets=8)])
    assert layout.region == (1024, 1024)


def test_tasks_own_whole_regions_and_the_plan_lists_tiles_region_by_region():
    g = grid()
    layout = choose_layout(g, [source((1024, 1024))])
    fp = ItemFootprint("a", g.bounds, 3, RES * RES, 6)
    plan = plan_tiles(g, layout, [fp])
    assert len(plan.tasks) == 64 and plan.layout == layout
    assert [t.region for t in plan.tasks[:16]] == [plan.tasks[0].region] * 16
    assert len({t.index for t in plan.tasks}) == 64
    for groups in (tile_groups(plan.tasks, 2, 256 * 256), tile_groups(plan.tasks, 4, 256 * 256)):
        regions = [{t.region for t in group} for group in groups]
        assert all(len(r) == 1 or len(group) % 16 == 0 for r, group in zip(regions, groups))
        assert sum(len(r) for r in regions) == 4          # no region split between tasks
    # fewer regions than cores: regions are split, every core still gets work
    one = plan_tiles(g, choose_layout(g, [source((2048, 2048))]), [fp])
    halves = tile_groups(one.tasks, 2, 256 * 256)
    assert len(halves) == 2
    # ... and each reads only the source windows under its own half of the region
    assert [{t.region.shape for t in half} for half in halves] == [{(1024, 2048)}, {(1024, 2048)}]
    assert halves[1][0].region.bounds[3] == halves[0][0].region.bounds[1]
