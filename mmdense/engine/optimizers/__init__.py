# Copyright (c) mmdense contributors. All rights reserved.
from .amp_optim_wrapper import CPUAmpOptimWrapper
from .grad_clip import (PerParamClipAmpOptimWrapper, PerParamClipOptimWrapper,
                        clip_grad_norm_per_param_)
from .lars import BarlowLARS
from .lars_constructor import LARSOptimWrapperConstructor
from .schedulers import LinearWarmupLR

__all__ = ['BarlowLARS', 'CPUAmpOptimWrapper', 'LARSOptimWrapperConstructor', 'LinearWarmupLR',
           'PerParamClipOptimWrapper', 'PerParamClipAmpOptimWrapper', 'clip_grad_norm_per_param_']
