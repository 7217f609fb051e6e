"""The CF 1.8 geometry encoding: ragged arrays of polygons with holes, multipolygons, lines and
points, with CF's ring orientation; features of mixed types have no container."""
from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, box

from jobs.vector.cf import encode, grid_mapping_attributes
from sparkeo.geometry import crs_of

HOLED = Polygon([(0, 0), (0, 10), (10, 10), (10, 0)], [[(2, 2), (4, 2), (4, 4), (2, 4)]])   # exterior clockwise


def test_polygons_with_holes_and_multipolygons_in_ragged_arrays():
    cf = encode([box(20, 20, 21, 21), HOLED, MultiPolygon([HOLED, box(30, 30, 32, 31)])])
    assert cf.geometry_type == "polygon"
    assert cf.node_count.tolist() == [5, 10, 15]
    assert cf.part_node_count.tolist() == [5, 5, 5, 5, 5, 5]
    assert cf.interior_ring.tolist() == [0, 0, 1, 0, 1, 0]
    rings = np.split(np.stack([cf.x, cf.y], axis=1), np.cumsum(cf.part_node_count)[:-1])
    for ring, hole in zip(rings, cf.interior_ring):
        assert (ring[0] == ring[-1]).all()                        # closed
        assert shapely.LinearRing(ring).is_ccw == (not hole)      # exterior anticlockwise, holes clockwise


def test_simple_polygons_lines_and_points_need_no_parts():
    cf = encode([box(0, 0, 1, 1), box(5, 5, 7, 7)])
    assert cf.node_count.tolist() == [5, 5] and cf.part_node_count is None and cf.interior_ring is None
    lines = encode([LineString([(0, 0), (1, 1)]), MultiLineString([[(0, 0), (1, 0)], [(2, 2), (3, 3), (4, 4)]])])
    assert lines.geometry_type == "line" and lines.node_count.tolist() == [2, 5]
    assert lines.part_node_count.tolist() == [2, 2, 3] and lines.interior_ring is None
    points = encode([Point(1, 2), MultiPoint([(3, 4), (5, 6)])])
    assert points.geometry_type == "point" and points.node_count.tolist() == [1, 2]
    assert points.x.tolist() == [1, 3, 5] and points.y.tolist() == [2, 4, 6]


def test_mixed_geometry_types_have_no_container():
    assert encode([box(0, 0, 1, 1), Point(3, 3)]) is None


def test_grid_mapping_names_the_crs():
    attrs = grid_mapping_attributes(crs_of("EPSG:32633"))
    assert attrs["grid_mapping_name"] == "transverse_mercator" and "crs_wkt" in attrs
    assert grid_mapping_attributes(crs_of("EPSG:4326"))["grid_mapping_name"] == "latitude_longitude"
