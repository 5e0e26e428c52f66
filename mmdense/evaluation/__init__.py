# Copyright (c) mmdense contributors. All rights reserved.
from .dense_features import (DenseFeatureBank, collect_dense_features, dense_features,
                             kmeans_eval, object_kmeans_eval, prototype_eval, run_unsup_eval)
from .functional import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403

__all__ = [
    'DenseFeatureBank', 'collect_dense_features', 'dense_features', 'kmeans_eval',
    'object_kmeans_eval', 'prototype_eval', 'run_unsup_eval'
]
