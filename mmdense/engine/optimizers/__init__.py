# Copyright (c) mmdense contributors. All rights reserved.
from .lars_constructor import LARSOptimWrapperConstructor

__all__ = ['LARSOptimWrapperConstructor']
