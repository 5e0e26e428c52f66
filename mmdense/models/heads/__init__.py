# Copyright (c) mmdense contributors. All rights reserved.
from .dino_head import DINOHead, WeightNormLinear
from .linear_probe_head import UpsampledLinearHead
from .semantic_grouping import SemanticGrouping

__all__ = ['SemanticGrouping', 'DINOHead', 'UpsampledLinearHead', 'WeightNormLinear']
