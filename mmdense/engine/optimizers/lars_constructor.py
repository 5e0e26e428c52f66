# Copyright (c) mmdense contributors. All rights reserved.
from typing import List, Optional

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor
# the configs' optimizer; importing it registers it in mmpretrain's OPTIMIZERS
from mmpretrain.engine.optimizers import LARS  # noqa: F401

from mmdense.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LARSOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Exclude every 1-D parameter (biases, norm affine) from LARS and decay.

    SlotCon/BYOL's rule is by *shape*: 1-D tensors get neither weight decay nor
    the LARS trust ratio. mmpretrain's configs express it by *name*
    (``custom_keys`` for 'bn', 'bias', 'downsample.1'), which silently misses
    modules named otherwise (e.g. a projector's BatchNorm). This constructor
    marks the groups of flat parameters with ``weight_decay=0`` and
    ``lars_exclude=True`` (read by mmpretrain's ``LARS``); all other
    ``paramwise_cfg`` options of mmengine's default constructor still apply.

    Args:
        optim_wrapper_cfg (dict): as for ``DefaultOptimWrapperConstructor``.
        paramwise_cfg (dict, optional): as for the default constructor; an
            empty one is fine (the 1-D rule always applies).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        # A non-empty paramwise_cfg makes the default constructor build one
        # group per parameter, which add_params below relies on.
        paramwise_cfg.setdefault('flat_decay_mult', 0.)
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix:  # recursive call on a child: mark once, at the top level
            return
        for group in params:
            if all(p.ndim <= 1 for p in group['params']):
                group['weight_decay'] = 0.
                group['lars_exclude'] = True
