# Copyright (c) mmdense contributors. All rights reserved.
"""TeacherTempWarmupHook (DINO's per-epoch linspace) and FreezeLastLayerHook."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch.nn as nn

from mmdense.engine.hooks import FreezeLastLayerHook, TeacherTempWarmupHook
from mmdense.models.heads import DINOHead
from mmdense.models.losses import DINOLoss


class _Model(nn.Module):

    def __init__(self):
        super().__init__()
        self.global_loss = DINOLoss(8, teacher_temp=0.07)
        self.dense_loss = DINOLoss(8, teacher_temp=0.06)
        self.head = DINOHead(4, out_dims=(8, 8), hidden_dim=8, bottleneck_dim=4)


def _runner(model, epoch=0, it=0):
    return SimpleNamespace(model=model, epoch=epoch, iter=it)


def test_teacher_temperature_follows_dinos_linspace_then_stays():
    model = _Model()
    hook = TeacherTempWarmupHook(('global_loss', 'dense_loss'), warmup_temp=0.04, warmup=30)
    runner = _runner(model)
    hook.before_train(runner)
    expected = np.concatenate([np.linspace(0.04, 0.07, 30), np.full(10, 0.07)])
    for epoch in range(40):
        runner.epoch = epoch
        hook.before_train_iter(runner, 0)
        assert model.global_loss.teacher_temp == pytest.approx(expected[epoch])
    assert model.dense_loss.teacher_temp == pytest.approx(0.06)  # each its own final value
    # a resumed run (fresh model, later epoch) sets the same value
    fresh = _Model()
    hook2 = TeacherTempWarmupHook(('global_loss', 'dense_loss'), warmup_temp=0.04, warmup=30)
    hook2.before_train(_runner(fresh))
    hook2.before_train_iter(_runner(fresh, epoch=12), 0)
    assert fresh.global_loss.teacher_temp == pytest.approx(expected[12])


def test_teacher_temperature_hook_names_a_missing_module():
    hook = TeacherTempWarmupHook(('global_los',))
    with pytest.raises(AttributeError, match='global_los'):
        hook.before_train(_runner(_Model()))


def test_last_layers_frozen_for_the_first_iterations_only():
    model = _Model()
    hook = FreezeLastLayerHook(frozen=2, by_epoch=False)
    hook.before_train(_runner(model))
    for it, frozen in ((0, True), (1, True), (2, False), (5, False)):
        hook.before_train_iter(_runner(model, it=it), 0)
        assert all(layer.frozen is frozen for layer in model.head.last_layers)
    with pytest.raises(ValueError, match='freeze_last_layer'):
        FreezeLastLayerHook().before_train(_runner(nn.Linear(2, 2)))
