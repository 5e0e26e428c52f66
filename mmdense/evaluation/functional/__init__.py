# Copyright (c) mmdense contributors. All rights reserved.
from .kmeans import kmeans_assign, kmeans_fit, kmeans_fit_predict
from .unsup_seg import cluster_confusion, hungarian_match, majority_match, match_and_score

__all__ = [
    'cluster_confusion', 'hungarian_match', 'majority_match', 'match_and_score', 'kmeans_assign',
    'kmeans_fit', 'kmeans_fit_predict'
]
