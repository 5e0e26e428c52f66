# Copyright (c) mmdense contributors. All rights reserved.
from .semantic_grouping import SemanticGrouping

__all__ = ['SemanticGrouping']
