# Copyright (c) mmdense contributors. All rights reserved.
from .view_geometry import (box_area, box_in_view, box_intersection, boxes_in_views,
                            boxes_nonempty, intersect_boxes, pairwise_overlap_boxes,
                            stack_view_geometry, stack_view_maps)

__all__ = [
    'box_area', 'box_in_view', 'box_intersection', 'boxes_in_views', 'boxes_nonempty',
    'intersect_boxes', 'pairwise_overlap_boxes', 'stack_view_geometry', 'stack_view_maps'
]
