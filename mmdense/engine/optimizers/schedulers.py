# Copyright (c) mmdense contributors. All rights reserved.
"""A linear warm-up that lands on the full lr exactly where the next schedule starts."""
from typing import Union

from mmengine.optim import BaseOptimWrapper, LinearLR
from torch.optim import Optimizer

from mmdense.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class LinearWarmupLR(LinearLR):
    """Linear warm-up whose full value is reached at ``end``, not ``end - 1``.

    With ``W = end - begin`` (iterations, or epochs before
    ``convert_to_iter_based``), the lr at step ``t`` is::

        lr(t) = base * (start_factor + (end_factor - start_factor) * (t - begin) / W),
                begin <= t <= end

    so ``lr(end) = base * end_factor``: the first step of a schedule that
    begins at ``end`` (a cosine from ``end``) starts from the full value, as
    the official SlotCon / PixPro ``GradualWarmupScheduler`` (``multiplier =
    1 / start_factor``) does. mmengine's ``LinearLR`` over the same
    ``[begin, end)`` reaches the full value at ``end - 1``, one step early:
    its slope is ``1 / (W - 1)``.

    Implementation: mmengine's ``LinearLR`` over ``[begin, end + 1)`` (so the
    attribute ``end`` is one past the argument). With ``by_epoch=True,
    convert_to_iter_based=True``, ``begin`` and ``end`` are epochs converted to
    iterations first, then the one iteration is added.

    Args:
        optimizer (Optimizer | BaseOptimWrapper): the wrapped optimizer.
        start_factor (float): factor of the first step. Defaults to 0.01.
        end_factor (float): factor reached at ``end``. Defaults to 1.0.
        begin (int): first step of the warm-up. Defaults to 0.
        end (int): step at which the full value is reached (the next
            schedule's ``begin``); must be finite.
        last_step, by_epoch, verbose: as for ``LinearLR``.
    """

    def __init__(self,
                 optimizer: Union[Optimizer, BaseOptimWrapper],
                 start_factor: float = 0.01,
                 end_factor: float = 1.0,
                 begin: int = 0,
                 end: int = None,
                 last_step: int = -1,
                 by_epoch: bool = True,
                 verbose: bool = False) -> None:
        if end is None or end <= begin:
            raise ValueError(f'LinearWarmupLR: end must be a step after begin ({begin}), '
                             f'got {end!r}')
        super().__init__(optimizer, start_factor=start_factor, end_factor=end_factor,
                         begin=begin, end=end + 1, last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)
