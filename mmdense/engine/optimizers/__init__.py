# Copyright (c) mmdense contributors. All rights reserved.
from .amp_optim_wrapper import CPUAmpOptimWrapper
from .lars_constructor import LARSOptimWrapperConstructor

__all__ = ['CPUAmpOptimWrapper', 'LARSOptimWrapperConstructor']
