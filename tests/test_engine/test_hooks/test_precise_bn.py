# Copyright (c) mmdense contributors. All rights reserved.
"""PreciseBNHook: BN running statistics become the mean of the training
batches' statistics (detectron2's TEST.PRECISE_BN), at the evaluation interval."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel

from mmdense.engine.hooks.precise_bn_hook import PreciseBNHook, update_bn_stats


class BNNet(BaseModel):
    """BN straight on the input (so its statistics are the data's), then a
    frozen-statistics BN in eval mode, which must stay untouched."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.conv = nn.Conv2d(3, 3, 1)
        self.frozen = nn.BatchNorm2d(3)
        self.modes = []

    def train(self, mode=True):
        super().train(mode)
        self.frozen.eval()  # as norm_eval=True
        return self

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.modes.append(mode)
        out = self.frozen(self.conv(self.bn(inputs)))
        if mode == 'loss':
            return dict(loss=out.mean())
        return out


def batches(num, seed=0):
    gen = torch.Generator().manual_seed(seed)
    mean = torch.tensor([5.0, -2.0, 0.5]).view(1, 3, 1, 1)
    std = torch.tensor([3.0, 0.5, 1.0]).view(1, 3, 1, 1)
    return [dict(inputs=torch.randn(4, 3, 6, 6, generator=gen) * std + mean) for _ in range(num)]


def expected_stats(data):
    means = torch.stack([d['inputs'].mean((0, 2, 3)) for d in data]).mean(0)
    variances = torch.stack([d['inputs'].var((0, 2, 3), unbiased=True) for d in data]).mean(0)
    return means, variances


def test_bn_stats_become_the_mean_of_the_batch_statistics():
    model = BNNet().train()
    data = batches(5)
    frozen_before = model.frozen.running_mean.clone()
    used = update_bn_stats(model, iter(data), num_iters=5)
    assert used == 5
    mean, var = expected_stats(data)
    torch.testing.assert_close(model.bn.running_mean, mean)
    torch.testing.assert_close(model.bn.running_var, var)
    # near the data's own statistics, far from the init (0, 1)
    torch.testing.assert_close(mean, torch.tensor([5.0, -2.0, 0.5]), atol=0.5, rtol=0)
    assert model.bn.momentum == 0.1  # restored
    assert torch.equal(model.frozen.running_mean, frozen_before)  # eval-mode BN untouched
    assert set(model.modes) == {'loss'}  # the training forward, as detectron2
    assert all(p.grad is None for p in model.parameters())  # no backward


def test_fewer_batches_than_asked_uses_what_there_is():
    model = BNNet().train()
    data = batches(2)
    assert update_bn_stats(model, iter(data), num_iters=200) == 2
    torch.testing.assert_close(model.bn.running_mean, expected_stats(data)[0])


def fake_runner(model, it, max_iters=10, val_interval=5):
    return SimpleNamespace(model=model, iter=it, max_iters=max_iters, cfg={},
                           train_loop=SimpleNamespace(val_interval=val_interval))


@pytest.mark.parametrize('interval', [4, None])
def test_hook_runs_at_the_interval_and_at_the_end(interval):
    model = BNNet().train()
    data = batches(3)
    hook = PreciseBNHook(num_iters=2, interval=interval, dataloader=data)
    runs = []
    hook.run = lambda runner: runs.append(runner.iter + 1)
    for it in range(10):
        hook.after_train_iter(fake_runner(model, it, val_interval=5), it)
    assert runs == ([4, 8, 10] if interval == 4 else [5, 10])


def test_hook_reads_on_through_its_own_loader():
    model = BNNet().train()
    data = batches(4)
    hook = PreciseBNHook(num_iters=2, interval=1, dataloader=data)
    runner = fake_runner(model, 0)
    hook.run(runner)
    torch.testing.assert_close(model.bn.running_mean, expected_stats(data[:2])[0])
    hook.run(runner)  # the next two batches, as detectron2's kept iterator
    torch.testing.assert_close(model.bn.running_mean, expected_stats(data[2:])[0])


def test_hook_is_reachable_from_the_mmdet_scope():
    pytest.importorskip('mmdet')
    import mmdense.engine.hooks  # noqa: F401  (registers it)
    from mmengine.registry import HOOKS, DefaultScope, init_default_scope
    saved = dict(DefaultScope._instance_dict)
    try:
        init_default_scope('mmdet')
        hook = HOOKS.build(dict(type='mmdense.PreciseBNHook', num_iters=200, interval=90000))
        assert isinstance(hook, PreciseBNHook) and hook.priority == 'ABOVE_NORMAL'
    finally:
        DefaultScope._instance_dict = saved
