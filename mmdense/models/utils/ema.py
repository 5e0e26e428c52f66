# Copyright (c) mmdense contributors. All rights reserved.
"""The momentum (EMA) teacher shared by SlotCon, CrOC and MaskContrast."""
import math
from typing import List, Optional

import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseAveragedModel

from mmdense.registry import MODELS


@MODELS.register_module()
class MomentumTeacher(BaseAveragedModel):
    """EMA teacher with a cosine momentum schedule, in the papers' convention.

    Built on mmengine's :class:`BaseAveragedModel` (a frozen deep copy in
    ``module``, a checkpointed ``steps`` buffer). Written here rather than
    reusing mmpretrain's ``CosineEMA`` because of three differences:

    - the momentum is stored once, as the papers write it: the weight of the
      *teacher* (0.99 -> 1 for SlotCon, 0.996 -> 1 for DINO/CrOC, 0.999 for
      MoCo / MaskContrast). mmengine's EMA classes store the opposite (the
      weight of the student), an easy trap (see SPEC §0b);
    - only parameters are averaged and the student's buffers are **not**
      copied into the teacher: the teacher's BatchNorm keeps its own running
      statistics, as in the official SlotCon / MoCo code;
    - the update is one ``torch._foreach_lerp_`` over all parameters.

    The momentum at update ``k`` of ``K = max_iters`` (read from the
    MessageHub, so it is right after a resume) is
    ``m_k = end - (end - base) * (cos(pi k / K) + 1) / 2``; outside a runner
    it stays ``base``.

    Args:
        model (nn.Module): the student (sub)module to copy and follow.
        momentum (float): teacher weight at the start, e.g. 0.99.
        end_momentum (float): teacher weight at the end, e.g. 1.0.
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
        super().__init__(model, interval=interval, device=device, update_buffers=False)
        self.momentum = float(momentum)
        self.end_momentum = float(end_momentum)
        self.module.train()

    def avg_func(self, averaged_param: torch.Tensor, source_param: torch.Tensor,
                 steps: int) -> None:
        """One parameter's update (mmengine's per-tensor API; the fast path
        is :meth:`update_parameters`)."""
        averaged_param.lerp_(source_param, 1. - self.teacher_momentum(steps))

    def teacher_momentum(self, step: Optional[int] = None) -> float:
        """Teacher weight at update ``step`` (defaults to the next update)."""
        step = int(self.steps) if step is None else step
        max_iters = MessageHub.get_current_instance().get_info('max_iters')
        if not max_iters:  # outside a runner: no schedule, keep the start value
            return self.momentum
        cosine = (math.cos(math.pi * step / float(max_iters)) + 1) / 2
        return self.end_momentum - (self.end_momentum - self.momentum) * cosine

    @torch.no_grad()
    def copy_from(self, model: nn.Module) -> None:
        """Make the teacher's parameters an exact copy of ``model``'s."""
        for dst, src in zip(self.module.parameters(), model.parameters()):
            dst.copy_(src)

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

    def rollback_tensors(self) -> List[torch.Tensor]:
        """What a skipped step restores: the step counter and the averaged
        parameters (the teacher's BatchNorm statistics are collected as
        every BatchNorm's are)."""
        return [self.steps] + list(self.avg_parameters.values())
