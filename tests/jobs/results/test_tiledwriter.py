"""jobs.results.tiledwriter: cells written by the executors as COGs, published by the driver with
their STAC items (each with its cell's grid), to a local folder or S3; a failed run leaves nothing."""
from __future__ import annotations

import json

import numpy as np
import rasterio

from jobs.cube.lazy import CubeMeta
from jobs.plan.cells import CellGrid
from jobs.plan.grid import TileGrid
from jobs.plan.planner import TileTask
from jobs.results.tiledwriter import TiledResultsWriter
from sparkeo import storage

GRID = TileGrid("EPSG:32633", (10.0, 0.0, 501000.0, 0.0, -10.0, 5099500.0), (300, 450))
META = CubeMeta(dims=("t", "bands", "y", "x"), labels={"t": ("2021-06-01", "2021-06-11"), "bands": ("ndvi",)},
                grid=GRID)


def writer_for(output: str) -> TiledResultsWriter:
    cells = CellGrid(2000).tasks(GRID, [TileTask((0, 0), w, g, 1) for _, w, g in GRID.tiles(128)])
    return TiledResultsWriter(output, META, GRID, cells, [cells[:3], cells[3:]])


def executors(writer: TiledResultsWriter, full: np.ndarray, groups=None) -> None:
    """What the Spark tasks do (jobs.spark.execute._run_group), in-process."""
    for strip in writer.strips[:groups]:
        buffer = writer.work.buffer(strip)
        for t in strip.tasks:
            r, c = t.window.slices
            writer.work.put(buffer, t, full[..., r, c])
        writer.receive(writer.work.finish(buffer))


def test_cells_go_to_s3_with_their_items_and_collection_last(s3, tmp_path):
    full = np.random.default_rng(2).random((2, 1, 300, 450), dtype=np.float32)
    output = s3.uri("jobs/tiled")
    writer = writer_for(output)
    executors(writer, full)
    files = writer.finish({"job_id": "tiled", "graph_sha256": "00"}, None)
    assert files[-1] == f"{output}/collection.json" and len(files) == 2 * 6 + 2
    collection = json.loads(storage.read_text(files[-1]))
    assert len(collection["assets"]) == 12
    name = "2021-06-11_r1c2.tif"
    local = tmp_path / name
    storage.download(f"{output}/{name}", str(local))
    with rasterio.open(local) as ds:
        assert (ds.transform.c, ds.transform.f) == (504000.0, 5098000.0) and ds.shape == (150, 150)
        np.testing.assert_array_equal(ds.read(1), full[1, 0, 150:300, 300:450])
    item = json.loads(storage.read_text(f"{output}/2021-06-11_r1c2.json"))
    assert item["properties"]["proj:bbox"] == [504000.0, 5096500.0, 505500.0, 5098000.0]
    assert not [k for k in s3.objects() if ".staging-" in k]


def test_an_aborted_run_deletes_what_executors_staged_on_s3(s3):
    writer = writer_for(s3.uri("jobs/tiled-aborted"))
    executors(writer, np.zeros((2, 1, 300, 450), np.float32), groups=1)
    assert [k for k in s3.objects() if ".staging-" in k]
    writer.abort()
    assert s3.objects() == {}
