# Copyright (c) mmdense contributors. All rights reserved.
"""Per-parameter gradient-norm clipping (DINO's ``clip_gradients``).

DINO and the released CrOC code clip every parameter's gradient to its own
L2 norm (``max_norm / (norm + 1e-6)`` when below 1), not the global norm of
all gradients that ``torch.nn.utils.clip_grad_norm_`` (mmengine's
``clip_grad=dict(max_norm=...)``) bounds. mmengine offers only the global
norm and the value clip, so the optimizer wrappers here accept
``clip_grad=dict(max_norm=3.0, per_parameter=True)``:

    optim_wrapper = dict(type='PerParamClipOptimWrapper',
                         optimizer=dict(type='AdamW', lr=5e-4),
                         clip_grad=dict(max_norm=3.0, per_parameter=True))

``PerParamClipAmpOptimWrapper`` is the same over mmengine's
``AmpOptimWrapper`` (fp16 on GPUs; the loss scale is unscaled before
clipping, as mmengine does), and ``CPUAmpOptimWrapper`` accepts the key too.
The logged ``grad_norm`` stays the global norm before clipping.
"""
from typing import Iterable, List

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmdense.registry import OPTIM_WRAPPERS

PER_PARAMETER = 'per_parameter'


def clip_grad_norm_per_param_(parameters: Iterable[torch.Tensor], max_norm: float,
                              norm_type: float = 2.0, eps: float = 1e-6) -> torch.Tensor:
    """Scale each parameter's gradient to a norm of at most ``max_norm``.

    ``grad *= min(1, max_norm / (||grad|| + eps))`` per parameter, as DINO's
    ``utils.clip_gradients``; one ``_foreach`` norm and one ``_foreach``
    product over all gradients (no Python loop over parameters).

    Args:
        parameters (Iterable[Tensor]): parameters whose ``.grad`` to clip;
            those without a gradient are skipped.
        max_norm (float): the largest norm a gradient keeps.
        norm_type (float): the norm's order. Defaults to 2.
        eps (float): added to each norm (DINO's 1e-6).

    Returns:
        Tensor: the global norm of all gradients before clipping (what
        mmengine logs as ``grad_norm``).
    """
    grads: List[torch.Tensor] = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norms = torch.stack(torch._foreach_norm(grads, norm_type))
    total = torch.linalg.vector_norm(norms, norm_type)
    scales = (max_norm / (norms + eps)).clamp(max=1.0)
    torch._foreach_mul_(grads, list(scales.unbind()))
    return total


class PerParamClipMixin:
    """Reads ``per_parameter`` from ``clip_grad`` and clips accordingly.

    Mixed in before an mmengine ``OptimWrapper`` class; without the key (or
    with ``per_parameter=False``) the wrapper's own clipping runs. The
    settings are checked when the wrapper is built.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_clip_grad()

    def check_clip_grad(self) -> None:
        """Refuse ``per_parameter`` with a value clip or without ``max_norm``."""
        kwargs = getattr(self, 'clip_grad_kwargs', None) or {}
        if not kwargs.get(PER_PARAMETER, False):
            return
        if getattr(self, 'grad_name', 'grad_norm') != 'grad_norm':
            raise ValueError("clip_grad: per_parameter=True clips norms; it cannot go with "
                             "type='value'")
        if 'max_norm' not in kwargs:
            raise ValueError('clip_grad: per_parameter=True needs max_norm, e.g. '
                             'dict(max_norm=3.0, per_parameter=True)')

    def _clip_grad(self) -> None:
        kwargs = dict(self.clip_grad_kwargs)
        if not kwargs.pop(PER_PARAMETER, False):
            self.clip_grad_kwargs = kwargs  # torch's clip functions do not take the key
            return super()._clip_grad()
        params = [p for group in self.optimizer.param_groups for p in group['params']
                  if p.requires_grad and p.grad is not None]
        if params:
            total = clip_grad_norm_per_param_(params, **kwargs)
            self.message_hub.update_scalar(f'train/{self.grad_name}', float(total))


@OPTIM_WRAPPERS.register_module()
class PerParamClipOptimWrapper(PerParamClipMixin, OptimWrapper):
    """mmengine's ``OptimWrapper`` that also clips per parameter
    (``clip_grad=dict(max_norm=..., per_parameter=True)``)."""


@OPTIM_WRAPPERS.register_module()
class PerParamClipAmpOptimWrapper(PerParamClipMixin, AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` (accelerators) that also clips per
    parameter (``clip_grad=dict(max_norm=..., per_parameter=True)``)."""
