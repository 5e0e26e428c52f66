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


def test_load_weights_non_strict_logs_what_does_not_match(tmp_path):
    torch.manual_seed(0)
    src = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
    dst = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 3, 1))
    state = {f'module.{k}': v for k, v in src.state_dict().items()}  # a raw DDP state dict
    del state['module.0.bias']
    state['module.head.weight'] = torch.ones(1)
    torch.save(dict(state_dict=state), str(tmp_path / 'ckpt.pth'))
    with LogCapture() as log:
        report = load_weights(dst, str(tmp_path / 'ckpt.pth'), strict=False)
    assert report['missing'] == ['0.bias']
    assert report['unexpected'] == ['head.weight']
    assert [key for key, _, _ in report['mismatched']] == ['2.weight', '2.bias']
    assert report['mismatched'][0][1:] == ((2, 4, 1, 1), (3, 4, 1, 1))  # checkpoint, model
    torch.testing.assert_close(dst[0].weight, src[0].weight)
    torch.testing.assert_close(dst[1].running_var, src[1].running_var)
    text = '\n'.join(log.messages)
    assert 'strict=False' in text and '1 key(s) of the model missing' in text and '0.bias' in text
    assert '1 key(s) of the checkpoint the model does not have: head.weight' in text
    assert '2 key(s) with another shape' in text
    # an exact match logs nothing
    del state['module.head.weight']
    state['module.0.bias'] = src[0].bias.detach()
    torch.save(dict(state_dict=state), str(tmp_path / 'exact.pth'))
    with LogCapture() as log:
        report = load_weights(src, str(tmp_path / 'exact.pth'))
    assert not any(report.values())
    assert not [m for m in log.messages if 'does not match' in m]


def _two_nets():
    torch.manual_seed(0)
    src = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
    dst = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 3, 1))
    return src, dst


def test_load_weights_refuses_another_configuration(tmp_path):
    """strict (default): other shapes raise, listing both shapes and the file,
    before anything is loaded."""
    from mmdense.utils.checkpoint_compat import CheckpointMismatchError
    src, dst = _two_nets()
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={f'module.{k}': v for k, v in src.state_dict().items()}), path)
    before = {k: v.clone() for k, v in dst.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_weights(dst, path)
    text = str(err.value)
    assert path in text and '2 key(s) with another shape' in text
    assert '2.weight: (2, 4, 1, 1) in the checkpoint, (3, 4, 1, 1) in the model' in text
    assert '2.bias: (2,) in the checkpoint, (3,) in the model' in text
    for key, value in dst.state_dict().items():  # nothing was loaded
        torch.testing.assert_close(value, before[key])


def test_load_weights_refuses_missing_keys_and_nan(tmp_path):
    from mmdense.utils.checkpoint_compat import (CheckpointMismatchError,
                                                 NonFiniteCheckpointError)
    src, _ = _two_nets()
    dst = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
    state = dict(src.state_dict())
    del state['2.bias']
    path = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict=state), path)
    with pytest.raises(CheckpointMismatchError, match=r'1 key\(s\) of the model missing '
                       r'from the checkpoint: 2.bias'):
        load_weights(dst, path)
    # the escape hatch: a deliberate partial load
    report = load_weights(dst, path, strict=False)
    assert report['missing'] == ['2.bias']
    torch.testing.assert_close(dst[2].weight, src[2].weight)
    # NaN weights
    state = dict(src.state_dict())
    state['0.weight'] = state['0.weight'].clone()
    state['0.weight'][0] = float('nan')
    nan = str(tmp_path / 'nan.pth')
    torch.save(dict(state_dict=state), nan)
    with pytest.raises(NonFiniteCheckpointError, match='0.weight') as err:
        load_weights(dst, nan)
    assert nan in str(err.value)
    # BatchNorm's num_batches_tracked may be absent (torch fills it in)
    state = {k: v for k, v in src.state_dict().items() if 'num_batches_tracked' not in k}
    torch.save(dict(state_dict=state), str(tmp_path / 'old.pth'))
    assert not any(load_weights(dst, str(tmp_path / 'old.pth'))['mismatched'])


def test_check_state_dict_matches_directly():
    from mmdense.utils.checkpoint_compat import (CheckpointMismatchError,
                                                 check_state_dict_matches)
    src, dst = _two_nets()
    with pytest.raises(CheckpointMismatchError) as err:
        check_state_dict_matches(dst, dict(state_dict=src.state_dict()), 'x.pth',
                                 allow_missing=True, purpose='would do harm')
    assert 'Checkpoint x.pth does not fit the Sequential model' in str(err.value)
    assert 'Loading it anyway would do harm.' in str(err.value)
    # missing keys allowed on request, shape mismatches never
    partial = {k: v for k, v in dst.state_dict().items() if k.startswith('0.')}
    report = check_state_dict_matches(dst, partial, 'p.pth', allow_missing=True)
    assert report['missing'] and not report['mismatched']
    with pytest.raises(CheckpointMismatchError, match='missing from the checkpoint'):
        check_state_dict_matches(dst, partial, 'p.pth')


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
