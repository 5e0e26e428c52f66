# Copyright (c) mmdense contributors. All rights reserved.
from .unsup_seg_metric import UnsupervisedSegMetric

__all__ = ['UnsupervisedSegMetric']
