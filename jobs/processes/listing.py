"""What sparkeo implements, for ``sparkeo processes`` and the web API's process list.

Each implemented process is listed with its summary (the first line of its docstring), its
parameters, and the specification it follows: a stable process of openEO 1.2.0, a 1.2.0 proposal,
or (``date_between``, ``date_difference``, ``flatten_dimensions``, ``unflatten_dimension``) a 2.0.0-rc.2
process. The 1.2.0 id lists below are the
specification's file names (``spec/openeo-processes/v1.2.0/`` and its ``proposals/``); a test checks
them against those folders, so they cannot drift.
"""
from __future__ import annotations

from dataclasses import dataclass

from jobs.processes.registry import REGISTRY, lookup

STABLE_1_2 = frozenset("""
absolute add add_dimension aggregate_spatial aggregate_temporal aggregate_temporal_period all and anomaly any apply
apply_dimension apply_kernel apply_neighborhood arccos arcosh arcsin arctan arctan2 array_apply array_contains
array_element array_filter array_find array_labels arsinh artanh between ceil climatological_normal clip constant cos
cosh count create_raster_cube dimension_labels divide drop_dimension e eq exp extrema filter_bands filter_bbox
filter_spatial filter_temporal first floor gt gte if int is_nan is_nodata is_valid last linear_scale_range ln
load_collection log lt lte mask mask_polygon max mean median merge_cubes min mod multiply ndvi neq
normalized_difference not or order pi power product quantiles rearrange reduce_dimension rename_dimension
rename_labels resample_cube_spatial resample_spatial round run_udf save_result sd sgn sin sinh sort sqrt subtract sum
tan tanh text_begins text_contains text_ends text_merge trim_cube variance xor
""".split())

PROPOSALS_1_2 = frozenset("""
aggregate_spatial_window ard_normalized_radar_backscatter ard_surface_reflectance array_append array_concat
array_create array_create_labeled array_find_label array_interpolate_linear array_modify atmospheric_correction
cloud_detection cummax cummin cumproduct cumsum date_shift filter_labels fit_curve inspect is_infinite load_result
load_uploaded_files nan predict_curve reduce_spatial resample_cube_temporal run_udf_externally sar_backscatter
""".split())

STABLE, PROPOSAL, LATER = "1.2.0", "1.2.0 proposal", "2.0.0-rc.2"


@dataclass(frozen=True)
class ProcessInfo:
    """One implemented process as published: id, summary, specification, parameters."""

    id: str
    summary: str
    spec: str                                   # "1.2.0" | "1.2.0 proposal" | "2.0.0-rc.2"
    parameters: tuple[tuple[str, bool], ...]    # (name, required)

    def to_json(self) -> dict:
        return {"id": self.id, "summary": self.summary, "spec": self.spec,
                "parameters": [{"name": n, "optional": not required} for n, required in self.parameters]}


def spec_of(process_id: str) -> str:
    """The specification ``process_id`` follows."""
    if process_id in STABLE_1_2:
        return STABLE
    return PROPOSAL if process_id in PROPOSALS_1_2 else LATER


def implemented() -> list[ProcessInfo]:
    """Every registered process, sorted by id."""
    lookup("add")       # registers every module's processes
    return [ProcessInfo(pid, spec.summary.splitlines()[0] if spec.summary else "", spec_of(pid),
                        tuple((p.name, p.required) for p in spec.params))
            for pid, spec in sorted(REGISTRY.items())]
