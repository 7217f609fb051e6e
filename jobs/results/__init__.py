"""Results: COGs and netCDF from tiles, the STAC documents, job metadata, and reading results back."""
