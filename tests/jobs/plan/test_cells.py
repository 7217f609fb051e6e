"""jobs.plan.cells: tile_grid cells aligned on multiples of their size in CRS units, one task per cell with input."""
from __future__ import annotations

import pytest

from jobs.errors import ProcessGraphError
from jobs.plan.cells import CellGrid
from jobs.plan.grid import TileGrid
from jobs.plan.planner import TileTask

# 10 m pixels; x from 501000, y from 5099500 down
GRID = TileGrid("EPSG:32633", (10.0, 0.0, 501000.0, 0.0, -10.0, 5099500.0), (300, 450))


@pytest.mark.parametrize("text,size", [("utm-10km", 10000), ("2km", 2000), ("5000m", 5000), ("UTM-1.5km", 1500)])
def test_cell_sizes_parse_like_geopyspark_names(text, size):
    assert CellGrid.parse(text).size == size


@pytest.mark.parametrize("bad", ["utm", "10", "-2km", "0km", 7])
def test_a_bad_tile_grid_names_the_node_and_option(bad):
    with pytest.raises(ProcessGraphError, match=r"save1.*options\.tile_grid"):
        CellGrid.parse(bad, "save1")


def test_cells_are_aligned_on_multiples_of_their_size_and_only_where_tiles_are():
    cells = CellGrid(2000)
    # eastings 501000..505500: edges at 502000 and 504000 -> columns 100, 300
    assert cells.cuts(501000.0, 10.0, 450) == [0, 100, 300, 450]
    # northings 5099500 down to 5096500: edges at 5098000 -> row 150
    assert cells.cuts(5099500.0, -10.0, 300) == [0, 150, 300]
    planned = [TileTask((0, 0), w, g, 3) for (_, w, g) in GRID.tiles(128) if w.col_off < 128]
    tasks = cells.tasks(GRID, planned)
    assert [(t.index, t.window.col_off, t.window.width) for t in tasks] == [((0, 0), 0, 100), ((0, 1), 100, 200),
                                                                           ((1, 0), 0, 100), ((1, 1), 100, 200)]
    assert all(t.items == 3 and t.grid == GRID.crop(t.window) for t in tasks)
