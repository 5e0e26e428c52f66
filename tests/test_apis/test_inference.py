# Copyright (c) mmdense contributors. All rights reserved.
"""mmdense.apis.inference: the analysis tools' shared model/loader helper."""
import argparse

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel

from mmdense.apis import (add_model_args, build_model_from_config, export_backbone,
                          load_model_and_loader, load_weights)
from mmdense.models.algorithms.base import BaseDenseSelfSupervisor
from mmdense.registry import MODELS
from tests.harness.configs import write_eval_config
from tests.harness.logs import LogCapture

BACKBONE = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                strides=(1, 2, 2, 1), out_indices=(3, ))


@MODELS.register_module(name='_ToyDenseNoTeacher', force=True)
class ToyDense(BaseDenseSelfSupervisor):
    """A method without teacher, neck or prototypes."""
    teacher_follows = ()

    def loss(self, inputs, data_samples):
        return dict(loss=self.backbone(inputs[0])[-1].mean())


@MODELS.register_module(name='_ToyNotDense', force=True)
class ToyNotDense(BaseModel):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.conv(inputs)


def _parse(argv):
    return add_model_args(argparse.ArgumentParser()).parse_args(argv)


def test_shared_arguments():
    args = _parse(['c.py', 'none', '--num-images', '3', '--cfg-options', 'a.b=1'])
    assert args.max_images == 3 and args.checkpoint == 'none' and args.cfg_options == {'a.b': 1}
    args = _parse(['c.py', 'x.pth', '--max-images', '4', '--batch-size', '2', '--device', 'cpu'])
    assert (args.max_images, args.batch_size, args.device, args.init_seed) == (4, 2, 'cpu', 0)
    assert args.num_workers is None


def test_load_weights_logs_what_does_not_match(tmp_path):
    torch.manual_seed(0)
    src = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
    dst = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 3, 1))
    state = {f'module.{k}': v for k, v in src.state_dict().items()}  # a raw DDP state dict
    del state['module.0.bias']
    state['module.head.weight'] = torch.ones(1)
    torch.save(dict(state_dict=state), str(tmp_path / 'ckpt.pth'))
    with LogCapture() as log:
        report = load_weights(dst, str(tmp_path / 'ckpt.pth'))
    assert report['missing'] == ['0.bias']
    assert report['unexpected'] == ['head.weight']
    assert report['mismatched'] == ['2.weight', '2.bias']
    torch.testing.assert_close(dst[0].weight, src[0].weight)
    torch.testing.assert_close(dst[1].running_var, src[1].running_var)
    text = '\n'.join(log.messages)
    assert 'strict=False' in text and 'missing keys (1' in text and '0.bias' in text
    assert 'unexpected keys (1' in text and 'head.weight' in text
    assert 'shape-mismatched keys (2' in text
    # an exact match logs nothing
    del state['module.head.weight']
    state['module.0.bias'] = src[0].bias.detach()
    torch.save(dict(state_dict=state), str(tmp_path / 'exact.pth'))
    with LogCapture() as log:
        report = load_weights(src, str(tmp_path / 'exact.pth'))
    assert not any(report.values())
    assert not [m for m in log.messages if 'does not match' in m]


def test_load_model_and_loader(tmp_path):
    config = write_eval_config(tmp_path, dict(type='_ToyDenseNoTeacher', backbone=BACKBONE))
    args = _parse([config, 'none', '--num-images', '3', '--device', 'cpu'])
    model, loader, cfg = load_model_and_loader(args)
    assert isinstance(model, ToyDense) and not model.training
    assert len(loader.dataset) == 3 and cfg.model.type == '_ToyDenseNoTeacher'
    # a checkpoint with an extra key loads (strict=False) and the key is logged
    state = dict(model.state_dict(), **{'head.extra': torch.zeros(1)})
    torch.save(dict(state_dict=state, meta=dict(cfg=cfg.pretty_text)), str(tmp_path / 'm.pth'))
    with LogCapture() as log:
        again, _, _ = load_model_and_loader(_parse([config, str(tmp_path / 'm.pth'),
                                                    '--device', 'cpu', '--init-seed', '5']))
    assert any('head.extra' in m for m in log.messages)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value)
    # no teacher: the exporter takes the student for 'teacher' too (the class says so)
    meta = export_backbone(str(tmp_path / 'm.pth'), str(tmp_path / 'bb.pth'))['meta']
    assert meta['prefix'] == 'backbone.' and meta['prefix_from'] == 'ToyDense.backbone_prefix'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_model_and_loader(_parse([config, str(tmp_path / 'nope.pth')]))


def test_a_model_without_the_interface_is_refused(tmp_path):
    config = write_eval_config(tmp_path, dict(type='_ToyNotDense'))
    with pytest.raises(TypeError, match='BaseDenseSelfSupervisor'):
        load_model_and_loader(_parse([config, 'none', '--device', 'cpu']))
    # building alone (no check) works, e.g. for other tools
    from mmengine.config import Config
    model = build_model_from_config(Config.fromfile(config), device='cpu')
    assert isinstance(model, ToyNotDense)
