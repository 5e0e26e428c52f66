# Copyright (c) mmdense contributors. All rights reserved.
"""LARS as the official SlotCon code runs it (Barlow Twins style), sync-free."""
from collections import defaultdict
from typing import Callable, Dict, Iterable, Optional, Tuple

import torch
from torch.optim.optimizer import Optimizer

from mmdense.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class BarlowLARS(Optimizer):
    r"""LARS of the official SlotCon code (Barlow Twins / MAE style).

    For every parameter ``p`` with gradient ``g``, per step:

    - *adapted* parameters (``p.ndim > 1``: conv / linear weights,
      prototypes)::

          d  = g + weight_decay * p
          q  = eta * ||p|| / ||d||     (q = 1 when ||p|| = 0 or ||d|| = 0)
          mu = momentum * mu + q * d
          p  = p - lr * mu

    - *excluded* parameters (``p.ndim <= 1``: biases, norm affine
      parameters, when ``exclude_1d``): neither weight decay nor adaptation,
      plain momentum SGD on the gradient: ``mu = momentum * mu + g``,
      ``p = p - lr * mu``.

    The momentum buffer ``mu`` (state key ``'mu'``, zeros at the first step)
    holds the lr-free update and the lr is applied last, so a scheduled lr
    acts at once. mmpretrain's ``LARS`` differs: trust ratio
    ``eta ||p|| / (||g|| + wd ||p|| + eps)``, lr folded into the buffer,
    and two ``.item()`` host syncs per parameter and step. The two are not
    interchangeable on resume (their buffers mean different things; this one
    starts from zero momentum when ``'mu'`` is missing).

    **No host synchronisation.** Norms come from ``torch._foreach_norm``, the
    trust ratios from ``torch.where`` on device, and the updates from
    ``torch._foreach_*`` ops (grouped by device and dtype): nothing reads a
    value back to the host, so a step does not stall a GPU stream.

    **Parameter groups.** A group's ``lars_exclude=True`` (what
    :class:`LARSOptimWrapperConstructor` sets on the groups of 1-D
    parameters, with ``weight_decay=0``) turns the adaptation off for the
    whole group; its ``weight_decay`` is still added to the gradient (0 in
    those groups). With the constructor and ``exclude_1d=True`` both rules
    select the same parameters, so the result is the same either way.

    Args:
        params (Iterable): parameters or parameter-group dicts.
        lr (float): learning rate.
        momentum (float): momentum factor. Defaults to 0.9.
        weight_decay (float): weight decay of the adapted parameters.
            Defaults to 0.
        eta (float): trust coefficient. Defaults to 0.001.
        exclude_1d (bool): exclude parameters with ``ndim <= 1`` from weight
            decay and adaptation (the official rule). Defaults to True.
    """

    def __init__(self,
                 params: Iterable,
                 lr: float,
                 momentum: float = 0.9,
                 weight_decay: float = 0.,
                 eta: float = 0.001,
                 exclude_1d: bool = True) -> None:
        if not lr >= 0.0:
            raise ValueError(f'BarlowLARS: invalid lr {lr!r}')
        if not momentum >= 0.0:
            raise ValueError(f'BarlowLARS: invalid momentum {momentum!r}')
        if not weight_decay >= 0.0:
            raise ValueError(f'BarlowLARS: invalid weight_decay {weight_decay!r}')
        if not eta >= 0.0:
            raise ValueError(f'BarlowLARS: invalid eta {eta!r}')
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta,
                        exclude_1d=exclude_1d)
        super().__init__(params, defaults)

    def _buffer(self, p: torch.Tensor) -> torch.Tensor:
        state = self.state[p]
        if 'mu' not in state:
            state['mu'] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state['mu']

    @torch.no_grad()
    def step(self, closure: Optional[Callable] = None):
        """Perform one optimisation step (see the class doc for the rule)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # Parameters that share device, dtype and hyper-parameters are updated
        # together, across parameter groups (the constructor makes one group
        # per parameter): a handful of foreach calls per step.
        buckets: Dict[tuple, Tuple[list, list, list]] = defaultdict(lambda: ([], [], []))
        for group in self.param_groups:
            # .get: groups loaded from another optimizer's state dict may lack a key
            # (groups are not modified here, so checkpoints keep their layout)
            opt = {k: group.get(k, self.defaults[k])
                   for k in ('momentum', 'weight_decay', 'eta', 'exclude_1d')}
            group_excluded = bool(group.get('lars_exclude', False))
            for p in group['params']:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError('BarlowLARS does not support sparse gradients')
                flat = bool(opt['exclude_1d']) and p.ndim <= 1
                adapted = not (flat or group_excluded)
                key = (p.device, p.dtype, group['lr'], opt['momentum'],
                       0. if flat else opt['weight_decay'], opt['eta'] if adapted else None,
                       adapted)
                params, grads, bufs = buckets[key]
                params.append(p)
                grads.append(p.grad)
                bufs.append(self._buffer(p))
        for (_, _, lr, momentum, weight_decay, eta, adapted), (ps, gs, mus) in buckets.items():
            # d = g + wd p (new tensors: the gradients are left untouched)
            ds = torch._foreach_add(gs, ps, alpha=weight_decay) if weight_decay else gs
            if adapted:
                p_norms = torch.stack(torch._foreach_norm(ps))
                d_norms = torch.stack(torch._foreach_norm(ds))
                ok = (p_norms > 0) & (d_norms > 0)
                # q = eta |p| / |d|, 1 where a norm is 0: on device, no .item()
                ratios = torch.where(ok, eta * p_norms / torch.where(ok, d_norms, 1.),
                                     torch.ones_like(p_norms)).unbind(0)
                if weight_decay:
                    torch._foreach_mul_(ds, ratios)
                else:
                    ds = torch._foreach_mul(ds, ratios)
            torch._foreach_mul_(mus, momentum)
            torch._foreach_add_(mus, ds)
            torch._foreach_add_(ps, mus, alpha=-lr)
        return loss
