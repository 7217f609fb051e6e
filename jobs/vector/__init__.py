"""Vector cubes: geometries in (GeoJSON), zonal statistics per tile, polygon masks."""
