# Copyright (c) mmdense contributors. All rights reserved.
import logging
import re
from collections import Counter
from typing import List, Optional

import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor
# mmpretrain's LARS, the alternative to BarlowLARS (configs/_base_/schedules/lars_coslr.py);
# importing it registers it in mmpretrain's OPTIMIZERS
from mmpretrain.engine.optimizers import LARS  # noqa: F401

from mmdense.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LARSOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Exclude every 1-D parameter (biases, norm affine) from LARS and decay.

    SlotCon/BYOL's rule is by *shape*: 1-D tensors get neither weight decay nor
    the LARS trust ratio. mmpretrain's configs express it by *name*
    (``custom_keys`` for 'bn', 'bias', 'downsample.1'), which silently misses
    modules named otherwise (e.g. a projector's BatchNorm). This constructor
    marks the groups of flat parameters (``ndim <= 1``) with
    ``weight_decay=0`` and ``lars_exclude=True``; all other ``paramwise_cfg``
    options of mmengine's default constructor still apply.

    Both LARS variants read the marks: mmpretrain's ``LARS`` (trust ratio 1
    and the group's zero decay) and :class:`BarlowLARS` (the configs'
    default), which also applies the same ``ndim <= 1`` rule by itself
    (``exclude_1d=True``): with or without this constructor it excludes the
    same parameters.

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
        if prefix:  # recursive call on a child: mark once, at the top level
            super().add_params(params, module, prefix, is_dcn_module)
            return
        # mmengine logs one WARNING per frozen parameter ("... is skipped since its
        # requires_grad=False": every parameter of an EMA teacher) and one INFO line per
        # parameter and paramwise option; they are counted and summarised in one line.
        per_param = _PerParameterLines()
        logger = MMLogger.get_current_instance()
        logger.addFilter(per_param)
        try:
            super().add_params(params, module, prefix, is_dcn_module)
        finally:
            logger.removeFilter(per_param)
        flat = 0
        for group in params:
            if all(p.ndim <= 1 for p in group['params']):
                group['weight_decay'] = 0.
                group['lars_exclude'] = True
                flat += len(group['params'])
        print_log(per_param.summary(type(self).__name__, flat), logger='current')


class _PerParameterLines(logging.Filter):
    """Drops (and counts) the per-parameter lines of mmengine's
    ``DefaultOptimWrapperConstructor.add_params``."""

    _SKIPPED = re.compile(r'^\.?(?P<name>\S+) is skipped since its requires_grad=False$')
    _OPTION = 'paramwise_options -- '

    def __init__(self) -> None:
        super().__init__()
        self.frozen: List[str] = []
        self.options = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        match = self._SKIPPED.match(message)
        if match:
            self.frozen.append(match.group('name'))
            return False
        if message.startswith(self._OPTION):
            self.options += 1
            return False
        return True

    def summary(self, owner: str, flat: int) -> str:
        line = (f'{owner}: {flat} flat parameter tensor(s) (biases, norms) without weight '
                'decay and LARS adaptation')
        if self.frozen:
            groups = Counter(name.split('.', 1)[0] for name in self.frozen)
            where = ', '.join(f'{k}.* ({n})' for k, n in groups.most_common(5))
            more = len(groups) - 5
            line += (f'; {len(self.frozen)} frozen parameter tensor(s) (requires_grad=False) '
                     f'left out of the optimizer: {where}' + (f' +{more} more' if more > 0 else ''))
        return line
