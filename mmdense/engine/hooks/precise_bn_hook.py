# Copyright (c) mmdense contributors. All rights reserved.
"""Precise BN (detectron2's ``TEST.PRECISE_BN``) for any mmengine model.

Before an evaluation, the BatchNorm running statistics are replaced by the
mean, over ``num_iters`` training batches, of each batch's mean and variance,
computed with the current (final) weights; the EMA statistics gathered while
the weights were still moving are discarded. The MoCo / SlotCon detection
configs (detectron2) run it with ``NUM_ITER 200`` before each evaluation.

Why not mmpretrain's ``PreciseBNHook`` (``mmpretrain.PreciseBNHook``, the
only one in mmengine 0.10 / mmdet 3.3 / mmseg 1.2 / mmpretrain 1.2):

- it forwards with ``model(**data)``, i.e. ``mode='tensor'``: for an mmdet
  two-stage detector (``_forward``) the RoI heads then see the RPN's
  *test-time* proposals, while detectron2 recomputes the statistics with the
  *training* forward (sampled RoIs, training augmentation), which is what the
  BN layers of the 4conv1fc box head and the mask head are normalised over
  during training. This hook runs ``mode='loss'`` under ``torch.no_grad()``;
- it re-iterates the train loop's own ``DataLoader``: with
  ``persistent_workers=True`` (mmdet's COCO base) a second ``iter()`` resets
  the worker iterator the train loop is reading, restarting the training
  data stream. This hook reads a loader of its own, built from the config's
  ``train_dataloader`` (or given);
- its budget is ``num_samples`` per GPU count; detectron2's is iterations.

Statistics are averaged over the processes when distributed (the batches of
SyncBN layers are already global). Only BN layers in training mode are
updated (a frozen ``norm_eval`` backbone keeps its statistics).
"""
import itertools
import logging
from typing import Iterable, Optional, Union

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.utils import get_ori_model
from torch.nn.modules.batchnorm import _BatchNorm

from mmdense.registry import HOOKS

__all__ = ['PreciseBNHook', 'update_bn_stats']


def _forward_loss(model: nn.Module, data) -> None:
    """The training forward of an mmengine ``BaseModel`` (no backward)."""
    data = model.data_preprocessor(data, True)
    if isinstance(data, dict):
        model(**data, mode='loss')
    else:
        model(*data, mode='loss')


@torch.no_grad()
def update_bn_stats(model: nn.Module,
                    data: Iterable,
                    num_iters: int = 200,
                    forward=_forward_loss,
                    logger: Union[str, logging.Logger, None] = 'current') -> int:
    """Set the running statistics of ``model``'s training-mode BN layers to
    the mean of ``num_iters`` batches' statistics.

    Args:
        model (nn.Module): in training mode (a DDP wrapper's module is used).
        data (Iterable): yields batches as the model's data pre-processor
            takes them (``num_iters`` are drawn).
        num_iters (int): batches. Defaults to 200 (detectron2's NUM_ITER).
        forward (callable): ``forward(model, batch)`` runs one forward;
            default: data pre-processor (training) + ``mode='loss'``.
        logger: for the summary line.

    Returns:
        int: the number of batches used (fewer when ``data`` ran out).
    """
    model = get_ori_model(model)
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.training
           and m.track_running_stats]
    if not bns:
        print_log('Precise BN: no BatchNorm layer in training mode; nothing to do',
                  logger=logger, level=logging.WARNING)
        return 0
    momenta = [bn.momentum for bn in bns]
    means = [torch.zeros_like(bn.running_mean) for bn in bns]
    variances = [torch.zeros_like(bn.running_var) for bn in bns]
    used = 0
    try:
        for bn in bns:
            # momentum 1: after a forward, the running statistics ARE the batch's
            bn.momentum = 1.0
        for batch in itertools.islice(data, num_iters):
            forward(model, batch)
            used += 1
            for i, bn in enumerate(bns):  # running mean of the per-batch statistics
                means[i] += (bn.running_mean - means[i]) / used
                variances[i] += (bn.running_var - variances[i]) / used
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
    if used == 0:
        raise RuntimeError('Precise BN: the data gave no batch; BN statistics unchanged')
    if get_world_size() > 1:
        for tensor in means + variances:
            all_reduce(tensor, op='mean')
    for bn, mean, var in zip(bns, means, variances):
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
    print_log(f'Precise BN: statistics of {len(bns)} BN layers recomputed over {used} '
              'training batches', logger=logger)
    return used


@HOOKS.register_module()
class PreciseBNHook(Hook):
    """Recompute BN statistics over training batches before evaluation.

    Runs after every ``interval``-th training iteration (before the
    validation loop of that iteration and before ``CheckpointHook`` saves,
    given a priority above 'VERY_LOW', e.g. 'ABOVE_NORMAL') and after the
    last one.

    Args:
        num_iters (int): training batches per recomputation. Defaults to 200.
        interval (int, optional): iterations between recomputations; None
            follows the train loop's ``val_interval``. Use the evaluation
            interval.
        dataloader (dict | Iterable, optional): where the batches come from:
            a DataLoader (or any iterable of batches), or a dataloader config;
            None builds one from the config's ``train_dataloader``. Kept and
            read on across recomputations, as detectron2 does.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, num_iters: int = 200, interval: Optional[int] = None,
                 dataloader: Union[dict, Iterable, None] = None) -> None:
        if num_iters < 1:
            raise ValueError(f'num_iters must be >= 1, got {num_iters}')
        if interval is not None and interval < 1:
            raise ValueError(f'interval must be >= 1 or None, got {interval}')
        self.num_iters = num_iters
        self.interval = interval
        self._loader_cfg = dataloader
        self._iterator = None

    def _data(self, runner):
        if self._iterator is None:
            source = self._loader_cfg
            if source is None:
                source = runner.cfg.get('train_dataloader')
                if source is None:
                    raise RuntimeError('PreciseBNHook needs a train_dataloader in the config '
                                       '(or its own `dataloader`)')
            if isinstance(source, dict):
                import copy
                source = copy.deepcopy(source)
                # a loader of its own; workers live while its iterator does
                source['persistent_workers'] = False
                source = runner.build_dataloader(source, seed=runner.seed)
            self._iterator = _cycle(source)
        return self._iterator

    def _interval(self, runner) -> int:
        if self.interval is not None:
            return self.interval
        return int(getattr(runner.train_loop, 'val_interval', 0) or runner.max_iters)

    def run(self, runner) -> int:
        """Recompute the statistics of ``runner.model`` now."""
        print_log(f'Precise BN: recomputing BN statistics over {self.num_iters} training '
                  'batches', logger='current')
        return update_bn_stats(runner.model, self._data(runner), self.num_iters)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if (self.every_n_train_iters(runner, self._interval(runner))
                or self.is_last_train_iter(runner)):
            self.run(runner)

    def after_train(self, runner) -> None:
        self._iterator = None  # let a worker pool go


def _cycle(loader):
    """Batches of ``loader``, restarting it when an epoch ends."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            return
