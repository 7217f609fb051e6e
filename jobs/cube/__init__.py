"""The cube model and reading: lazy cubes, in-memory cubes, load_collection, reading and warping assets."""
