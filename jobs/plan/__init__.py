"""Geometry and planning: the output grid, tiles, input estimates and budgets (pure computation)."""
