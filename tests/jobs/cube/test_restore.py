"""jobs.cube.restore: the periods and dimensions a job's results give back to load_stac."""
from __future__ import annotations

import datetime as dt

import numpy as np

from jobs.cube.arraycube import ArrayCube, materialize
from jobs.cube.restore import label_periods, with_declared_dimensions
from jobs.plan.planner import TimeSlice
from jobs.plan.timelabels import LabelPeriod
from layercatalog.model import ItemRecord
from tests.fixtures.cubes import UTM_GRID

UTC = dt.timezone.utc


def result_item(label: str, start: str, end: str | None = None, observations: int | None = None) -> ItemRecord:
    props = {"sparkeo:time_label": label, "datetime": start}
    if end:
        props.update(start_datetime=start, end_datetime=end)
    if observations is not None:
        props["sparkeo:observations"] = observations
    return ItemRecord(f"job_{label}", "c", dt.datetime.fromisoformat(start.replace("Z", "+00:00")),
                      (0, 0, 1, 1), {}, properties=props)


def test_periods_come_back_from_the_items_inclusive_end_and_observations():
    slices = (TimeSlice("2023-06", (result_item("2023-06", "2023-06-01T00:00:00Z", "2023-06-30T23:59:59Z", 0),)),
              TimeSlice("2023-07-04", (result_item("2023-07-04", "2023-07-04T00:00:00Z"),)))
    assert label_periods(slices) == {"2023-06": LabelPeriod(dt.datetime(2023, 6, 1), dt.datetime(2023, 7, 1), 0)}


def cube(times: int, bands: int) -> ArrayCube:
    values = np.arange(times * bands * UTM_GRID.height * UTM_GRID.width, dtype=np.float32)
    return ArrayCube(values.reshape(times, bands, *UTM_GRID.shape), ("t", "bands", "y", "x"),
                     {"t": tuple(f"2023-06-0{i + 1}" for i in range(times)), "bands": tuple(f"b{i}" for i in range(bands))},
                     UTM_GRID)


def test_undeclared_single_label_dimensions_are_dropped():
    full = cube(1, 1)
    both = with_declared_dimensions(full, ("spatial", "spatial"), "load")
    assert both.meta.dims == ("y", "x") and both.meta.band_name == "b0"
    np.testing.assert_array_equal(materialize(both), materialize(full)[0, 0])
    assert with_declared_dimensions(full, ("spatial", "spatial", "temporal"), "load").meta.dims == ("t", "y", "x")
    # nothing declared, or several labels: the cube as loaded
    assert with_declared_dimensions(full, None, "load") is full
    several = cube(2, 1)
    assert with_declared_dimensions(several, ("spatial", "spatial"), "load").meta.dims == ("t", "y", "x")
