"""Import every process module so that all processes are registered."""
import importlib

MODULES = (
    "jobs.processes.math",        # arithmetic, comparison, logic, math functions
    "jobs.processes.reducers",    # median mean min max count first last sum sd variance quantiles
    "jobs.processes.arrays",      # array_element, is_nan/is_nodata/is_valid, ...
    "jobs.processes.cubes",       # load_collection, load_stac, filter_*, save_result
    "jobs.processes.reduce",      # reduce_dimension, apply, apply_dimension
    "jobs.processes.combine",     # mask, ndvi, merge_cubes
    "jobs.processes.dimensions",  # rename_labels, drop_dimension, add_dimension
    "jobs.processes.flatten",     # flatten_dimensions unflatten_dimension
    "jobs.processes.temporal",    # aggregate_temporal_period aggregate_temporal resample_cube_temporal
    "jobs.processes.climatology",  # climatological_normal anomaly
    "jobs.processes.curves",      # fit_curve predict_curve
    "jobs.processes.spatial",     # filter_spatial, resample_spatial
    "jobs.processes.vector",      # load_geojson aggregate_spatial mask_polygon
    "jobs.processes.trigonometry",  # sin cos tan, arc*, hyperbolic, arctan2
    "jobs.processes.rounding",    # ceil floor int round sgn mod
    "jobs.processes.constants",   # constant e pi nan
    "jobs.processes.logic",       # all any between if
    "jobs.processes.arraycallbacks",  # array_apply array_filter
    "jobs.processes.arraysearch",  # array_contains array_find array_find_label array_labels
    "jobs.processes.ordering",    # order sort rearrange
    "jobs.processes.arrayedit",   # array_append array_concat array_create_labeled array_modify
    "jobs.processes.cumulative",  # cumsum cumproduct cummin cummax
    "jobs.processes.interpolation",  # array_interpolate_linear
    "jobs.processes.text",        # text_begins text_contains text_ends text_merge
    "jobs.processes.dates",       # date_shift date_between date_difference
    "jobs.processes.neighborhood",  # apply_kernel apply_neighborhood
    "jobs.processes.trimcube",    # trim_cube
)

for _name in MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:
            raise
