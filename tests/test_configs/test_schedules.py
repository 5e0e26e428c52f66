# Copyright (c) mmdense contributors. All rights reserved.
"""The lr the runner applies at each iteration equals the official SlotCon schedule.

Official (SlotCon's ``GradualWarmupScheduler(multiplier=100)`` followed by a
per-iteration ``CosineAnnealingLR(eta_min=1e-6, T_max=total - W)``), with W
warm-up iterations and ``total`` iterations in all::

    lr(i) = base * (0.01 + 0.99 * i / W)                              0 <= i <= W
    lr(i) = 1e-6 + (base - 1e-6) * (1 + cos(pi * (i - W) / (total - W))) / 2   W < i

so the full lr is reached exactly at iteration W, the first cosine iteration.
The schedulers are built from the configs as the runner builds them
(``PARAM_SCHEDULERS.build`` with the optimizer and ``epoch_length``) and
stepped as ``IterBasedTrainLoop`` / ``EpochBasedTrainLoop`` step them: the lr of
iteration i is read before the step, then ``optimizer.step()`` and every
scheduler's ``step()`` run after it.
"""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmdense.registry import PARAM_SCHEDULERS

from tests.harness.paths import DEMO_CONFIG, REPO

EPOCH_LENGTH = 4  # iterations per epoch for the epoch-based configs (small: fast)


def official_lr(i: int, base: float, warmup: int, total: int, eta_min: float = 1e-6) -> float:
    if i <= warmup:
        return base * (0.01 + 0.99 * i / warmup)
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * (i - warmup) / (total - warmup))) / 2


def applied_lrs(scheduler_cfgs, base_lr: float, total: int, epoch_length: int = EPOCH_LENGTH):
    """The lr of iterations 0 .. total - 1, with the runner's build and step order."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr)
    schedulers = [PARAM_SCHEDULERS.build(copy.deepcopy(dict(cfg)),
                                         default_args=dict(optimizer=optimizer,
                                                           epoch_length=epoch_length))
                  for cfg in scheduler_cfgs]
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]['lr'])  # what this iteration's step uses
        optimizer.step()
        for scheduler in schedulers:  # ParamSchedulerHook.after_train_iter
            scheduler.step()
    return lrs


def schedule_of(path: str):
    cfg = Config.fromfile(path)
    base = cfg.optim_wrapper.optimizer.lr
    if 'max_iters' in cfg.train_cfg:
        total = cfg.train_cfg.max_iters
        warmup = cfg.param_scheduler[0]['end']
    else:
        total = cfg.train_cfg.max_epochs * EPOCH_LENGTH
        warmup = cfg.param_scheduler[0]['end'] * EPOCH_LENGTH
    return cfg, base, warmup, total


CONFIGS = [
    osp.join(REPO, 'configs', '_base_', 'schedules', 'lars_coslr.py'),
    osp.join(REPO, 'configs', 'slotcon', 'slotcon_resnet50_8xb64-coslr-800e_coco.py'),
    osp.join(REPO, 'configs', 'slotcon', 'slotcon_resnet50-k2048_8xb64-coslr-100e_in1k.py'),
    osp.join(REPO, 'configs', 'slotcon', 'slotcon_resnet50-k2048_8xb64-coslr-200e_in1k.py'),
    DEMO_CONFIG,
]


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_the_applied_lr_is_the_official_schedule(path):
    cfg, base, warmup, total = schedule_of(path)
    lrs = applied_lrs(cfg.param_scheduler, base, total)
    w = warmup
    for i in (0, 1, w - 1, w, w + 1, total - 1):
        assert lrs[i] == pytest.approx(official_lr(i, base, w, total), rel=1e-9, abs=1e-15), i
    assert lrs[0] == pytest.approx(base / 100)
    assert lrs[w - 1] < base and lrs[w] == pytest.approx(base, rel=1e-12)  # lands exactly at W
    assert lrs[w + 1] < base
    # and every other iteration too
    worst = max(abs(lr - official_lr(i, base, w, total)) / official_lr(i, base, w, total)
                for i, lr in enumerate(lrs))
    assert worst < 1e-9


def test_mmengine_linear_lr_reaches_the_full_lr_one_iteration_early():
    """What the configs used to do (and what the test above would have caught)."""
    cfg, base, warmup, total = schedule_of(DEMO_CONFIG)
    old = copy.deepcopy(list(cfg.param_scheduler))
    old[0]['type'] = 'LinearLR'
    lrs = applied_lrs(old, base, total)
    assert lrs[warmup - 1] == pytest.approx(base)  # one iteration early
    assert lrs[warmup - 1] != pytest.approx(official_lr(warmup - 1, base, warmup, total))


def test_linear_warmup_resumes_mid_warmup():
    def build(optimizer):
        return PARAM_SCHEDULERS.build(dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=False,
                                           begin=0, end=10), default_args=dict(optimizer=optimizer))

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    opts = [torch.optim.SGD([p], lr=1.0) for p in params]
    first = build(opts[0])
    for _ in range(4):
        opts[0].step()
        first.step()
    state = first.state_dict()
    opts[1].load_state_dict(opts[0].state_dict())
    second = build(opts[1])
    second.load_state_dict(state)
    opts[1].param_groups[0]['lr'] = opts[0].param_groups[0]['lr']
    for i in range(4, 12):
        assert opts[1].param_groups[0]['lr'] == pytest.approx(opts[0].param_groups[0]['lr'])
        assert opts[0].param_groups[0]['lr'] == pytest.approx(min(1.0, 0.01 + 0.99 * i / 10))
        for opt, sched in zip(opts, (first, second)):
            opt.step()
            sched.step()
    with pytest.raises(ValueError, match='end'):
        build_cfg = dict(type='LinearWarmupLR', by_epoch=False, begin=5, end=5)
        PARAM_SCHEDULERS.build(build_cfg, default_args=dict(optimizer=opts[0]))
