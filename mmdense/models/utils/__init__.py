# Copyright (c) mmdense contributors. All rights reserved.
"""Blocks shared by the algorithms: teacher, geometry, pooling, collectives."""
from .backbone_export import export_backbone, extract_backbone, to_detectron2
from .dist import all_reduce_max, all_reduce_sum, concat_all_gather, rank_and_world
from .ema import MomentumTeacher
from .geometry import inverse_augment
from .region_pooling import argmax_presence, soft_region_pool

__all__ = [
    'all_reduce_max', 'all_reduce_sum', 'concat_all_gather', 'rank_and_world',
    'MomentumTeacher', 'inverse_augment', 'argmax_presence', 'soft_region_pool', 'export_backbone',
    'extract_backbone', 'to_detectron2'
]
