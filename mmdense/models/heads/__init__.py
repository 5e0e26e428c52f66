# Copyright (c) mmdense contributors. All rights reserved.
from .dino_head import DINOHead, WeightNormLinear
from .linear_probe_head import UpsampledLinearHead
from .maskcontrast_head import EmbeddingSaliencyHead
from .semantic_grouping import SemanticGrouping
from .vice_prototypes import NormalizedPrototypes

__all__ = ['SemanticGrouping', 'DINOHead', 'UpsampledLinearHead', 'WeightNormLinear',
           'EmbeddingSaliencyHead', 'NormalizedPrototypes']
