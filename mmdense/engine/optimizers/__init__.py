# Copyright (c) mmdense contributors. All rights reserved.
from .amp_optim_wrapper import CPUAmpOptimWrapper
from .lars import BarlowLARS
from .lars_constructor import LARSOptimWrapperConstructor
from .schedulers import LinearWarmupLR

__all__ = ['BarlowLARS', 'CPUAmpOptimWrapper', 'LARSOptimWrapperConstructor', 'LinearWarmupLR']
