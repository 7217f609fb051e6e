"""Import every process module so that all processes are registered."""
import importlib

MODULES = (
    "jobs.processes.math",        # arithmetic, comparison, logic, math functions
    "jobs.processes.reducers",    # median mean min max count first last sum sd variance quantiles
    "jobs.processes.arrays",      # array_element, is_nan/is_nodata/is_valid, ...
    "jobs.processes.cubes",       # load_collection, filter_*, save_result
    "jobs.processes.reduce",      # reduce_dimension, apply, apply_dimension
    "jobs.processes.combine",     # mask, ndvi, merge_cubes
    "jobs.processes.dimensions",  # rename_labels, drop_dimension, add_dimension
    "jobs.processes.temporal",    # aggregate_temporal_period
    "jobs.processes.spatial",     # filter_spatial, resample_spatial
)

for _name in MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:
            raise
