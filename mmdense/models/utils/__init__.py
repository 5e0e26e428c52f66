# Copyright (c) mmdense contributors. All rights reserved.
"""Blocks shared by the algorithms: teacher, geometry, pooling, collectives."""
from .dist import all_reduce_max, all_reduce_sum, concat_all_gather, rank_and_world
from .centering import Centering
from .ema import MomentumTeacher
from .geometry import inverse_augment
from .online_clustering import ClusterAssignment, CrossViewOnlineClustering
from .queue import MomentumQueue
from .region_pooling import (argmax_presence, compact_region_ids, segment_mean_pool,
                             soft_region_pool, upsampled_unit_mean_pool)
from .sinkhorn import sinkhorn_knopp, transport_cost
from .strict_pretrained import StrictPretrained
from .vit_tokens import map_to_tokens, patch_centers, tokens_to_map

__all__ = [
    'all_reduce_max', 'all_reduce_sum', 'concat_all_gather', 'rank_and_world',
    'Centering', 'MomentumTeacher', 'inverse_augment', 'argmax_presence', 'soft_region_pool',
    'MomentumQueue', 'compact_region_ids',
    'segment_mean_pool', 'upsampled_unit_mean_pool', 'sinkhorn_knopp', 'transport_cost',
    'map_to_tokens', 'patch_centers',
    'tokens_to_map', 'StrictPretrained', 'ClusterAssignment', 'CrossViewOnlineClustering'
]
