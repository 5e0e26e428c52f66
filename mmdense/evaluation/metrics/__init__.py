# Copyright (c) mmdense contributors. All rights reserved.
from .dense_kmeans_metric import DenseKMeansMetric
from .object_kmeans_metric import ObjectKMeansMetric
from .unsup_seg_metric import UnsupervisedSegMetric

__all__ = ['UnsupervisedSegMetric', 'ObjectKMeansMetric', 'DenseKMeansMetric']
