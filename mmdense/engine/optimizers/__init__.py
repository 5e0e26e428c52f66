# Copyright (c) mmdense contributors. All rights reserved.
from .amp_optim_wrapper import AMP_WRAPPERS, CPUAmpOptimWrapper, optim_wrapper_type
from .grad_clip import (PerParamClipAmpOptimWrapper, PerParamClipOptimWrapper,
                        clip_grad_norm_per_param_)
from .lars import BarlowLARS
from .lars_constructor import LARSOptimWrapperConstructor
from .schedulers import LinearWarmupLR

__all__ = ['AMP_WRAPPERS', 'optim_wrapper_type', 'BarlowLARS', 'CPUAmpOptimWrapper', 'LARSOptimWrapperConstructor', 'LinearWarmupLR',
           'PerParamClipOptimWrapper', 'PerParamClipAmpOptimWrapper', 'clip_grad_norm_per_param_']
