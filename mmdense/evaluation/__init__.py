# Copyright (c) mmdense contributors. All rights reserved.
from .dense import (DenseFeatureBank, collect_dense_features, dense_features, format_results,
                    kmeans_eval, object_kmeans_eval, prototype_eval, run_unsup_eval,
                    saliency_from_classes, saliency_from_dir)
from .functional import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403

__all__ = [
    'DenseFeatureBank', 'collect_dense_features', 'dense_features', 'format_results',
    'kmeans_eval', 'object_kmeans_eval', 'prototype_eval', 'run_unsup_eval',
    'saliency_from_classes', 'saliency_from_dir'
]
