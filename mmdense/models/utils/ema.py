# Copyright (c) mmdense contributors. All rights reserved.
"""The momentum (EMA) teacher shared by SlotCon, CrOC and MaskContrast."""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmpretrain.models.utils import CosineEMA

from mmdense.registry import MODELS


@MODELS.register_module()
class MomentumTeacher(CosineEMA):
    """EMA teacher with a cosine momentum schedule, in the papers' convention.

    Built on mmpretrain's :class:`CosineEMA` (its ``steps`` buffer is
    checkpointed and ``max_iters`` comes from the MessageHub, so the schedule is
    right after a resume). Three differences, which is why it exists:

    - ``momentum`` is given as the papers write it: the weight of the *teacher*
      (0.99 -> 1 for SlotCon, 0.996 -> 1 for DINO/CrOC, 0.999 for MoCo).
      mmengine's EMA classes use the opposite convention (weight of the
      student), an easy trap (see SPEC §0b).
    - Only parameters are averaged and, unlike mmengine's
      ``update_buffers=False`` path, the student's buffers are **not** copied
      into the teacher: the teacher's BatchNorm keeps its own running
      statistics, as in the official SlotCon/MoCo code.
    - The update is one ``torch._foreach_lerp_`` over all parameters (no
      per-parameter Python call, no MessageHub lookup per tensor).

    The momentum at update ``k`` of ``K = max_iters`` is
    ``m_k = end - (end - base) * (cos(pi k / K) + 1) / 2``.

    Args:
        model (nn.Module): the student (sub)module to copy and follow.
        momentum (float): teacher momentum at the start, e.g. 0.99.
        end_momentum (float): teacher momentum at the end, e.g. 1.0.
        interval (int): update every ``interval`` calls.
        device (torch.device, optional): where to keep the teacher.
    """

    def __init__(self,
                 model: nn.Module,
                 momentum: float = 0.99,
                 end_momentum: float = 1.0,
                 interval: int = 1,
                 device: Optional[torch.device] = None) -> None:
        if not (0. <= momentum <= 1. and 0. <= end_momentum <= 1.):
            raise ValueError(f'MomentumTeacher: momentum and end_momentum must be in [0, 1] '
                             f'(teacher weight, e.g. 0.99), got {momentum} and {end_momentum}')
        super().__init__(model, momentum=1. - momentum, end_momentum=1. - end_momentum,
                         interval=interval, device=device, update_buffers=False)
        self.module.train()

    def teacher_momentum(self, step: Optional[int] = None) -> float:
        """Teacher weight at update ``step`` (defaults to the next update)."""
        step = int(self.steps) if step is None else step
        max_iters = MessageHub.get_current_instance().get_info('max_iters')
        if not max_iters:  # outside a runner: no schedule, keep the start value
            return 1. - self.momentum
        cosine = (math.cos(math.pi * step / float(max_iters)) + 1) / 2
        student_weight = self.end_momentum - (self.end_momentum - self.momentum) * cosine
        return 1. - student_weight

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Move the teacher's parameters towards ``model``'s (first call copies)."""
        src = dict(model.named_parameters())
        names = [k for k, p in self.avg_parameters.items() if p.dtype.is_floating_point]
        avg = [self.avg_parameters[k] for k in names]
        new = [src[k].detach().to(self.avg_parameters[k].device) for k in names]
        if int(self.steps) == 0:
            for dst, val in zip(avg, new):
                dst.copy_(val)
        elif int(self.steps) % self.interval == 0:
            torch._foreach_lerp_(avg, new, 1. - self.teacher_momentum())
        self.steps += 1
