# Copyright (c) mmdense contributors. All rights reserved.
"""Quiet logs: one summary line from the LARS constructor (not one warning per
frozen teacher parameter), no per-parameter init_weights dump from the
analysis tools' model builder, stage names on the evaluation progress bars."""
import copy

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.optim import build_optim_wrapper

import mmdense.engine.optimizers  # noqa: F401  (registers the constructor)
from tests.harness.logs import LogCapture


class StudentTeacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.student = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1))
        self.teacher = copy.deepcopy(self.student)
        for p in self.teacher.parameters():
            p.requires_grad_(False)


def test_lars_constructor_logs_one_summary_line():
    model = StudentTeacher()
    with LogCapture() as log:
        wrapper = build_optim_wrapper(model, dict(
            constructor='LARSOptimWrapperConstructor',
            optimizer=dict(type='LARS', lr=0.1, momentum=0.9, weight_decay=1e-5)))
    assert not [m for m in log.messages if 'is skipped since' in m]
    assert not [m for m in log.messages if m.startswith('paramwise_options')]
    summary = [m for m in log.messages if 'parameter tensor(s)' in m]
    assert len(summary) == 1, log.messages
    frozen = sum(1 for _ in model.teacher.parameters())
    assert summary[0].startswith('LARSOptimWrapperConstructor: ')
    assert f'{frozen} frozen parameter tensor(s)' in summary[0]
    assert f'teacher.* ({frozen})' in summary[0]
    assert '4 flat parameter tensor(s)' in summary[0]  # conv biases x2, BN weight and bias
    # the optimizer is unchanged: student only, flat ones excluded
    trained = {id(p) for g in wrapper.optimizer.param_groups for p in g['params']}
    assert trained == {id(p) for p in model.student.parameters()}


def _classifier_cfg():
    return ConfigDict(
        default_scope='mmpretrain',
        model=dict(type='ImageClassifier',
                   backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=4, in_channels=512)))


def test_build_model_from_config_does_not_dump_init_weights():
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope

    from mmdense.apis.inference import build_model_from_config
    saved = dict(DefaultScope._instance_dict), dict(MMLogger._instance_dict)
    try:
        MMLogger.get_instance('test_quiet_logs', log_level='INFO')  # current, INFO shown
        # what the dump looks like (the plain call): hundreds of lines
        from mmpretrain.registry import MODELS
        with LogCapture() as plain:
            MODELS.build(_classifier_cfg().model).init_weights()
        dump = [m for m in plain.messages if 'torch.Size' in m]
        assert len(dump) > 50
        with LogCapture() as log:
            model = build_model_from_config(_classifier_cfg(), device='cpu')
        assert not [m for m in log.messages if 'torch.Size' in m or '`init_weights`' in m], \
            log.messages[:5]
        assert '_dump_init_info' not in model.__dict__  # the method is BaseModule's again
        assert not model.training
    finally:
        DefaultScope._instance_dict, MMLogger._instance_dict = saved


def test_progress_bars_name_their_stage(capsys):
    from mmdense.evaluation.dense.features import DenseFeatureBank
    from mmdense.evaluation.dense.protocols import dense_confusion
    from mmdense.evaluation.dense.scoring import track
    assert list(track(range(3), True, 'pooling object embeddings')) == [0, 1, 2]
    out = capsys.readouterr().out
    assert out.startswith('pooling object embeddings: [')
    assert out.count('\rpooling object embeddings: [') == 3  # every redraw

    bank = DenseFeatureBank(features=[torch.randn(4, 2, 2) for _ in range(2)],
                            labels=[np.zeros((4, 4), np.int64) for _ in range(2)])
    dense_confusion(bank, torch.randn(3, 4), num_classes=2, progress=True,
                    label='assigning (K=3, seed 0)')
    out = capsys.readouterr().out
    assert '\rassigning (K=3, seed 0): [' in out
