# Copyright (c) mmdense contributors. All rights reserved.
"""tools/model_converters/extract_backbone.py and mmdense.apis.backbone_export."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmdense.apis.backbone_export import (NETWORK_PREFIXES, describe_backbone, detectron2_path,
                                          extract_backbone, torchvision_to_detectron2_key)
from mmdense.registry import MODELS

from tests.harness.logs import LogCapture

from .conftest import REPO, load_tool

DEMO_CONFIG = f'{REPO}/configs/slotcon/slotcon_resnet18-narrow_1xb32-400iters_synthetic.py'


def plain_data_only(value) -> bool:
    """Only what ``torch.load(weights_only=True)`` reads without allow-listing."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return True
    if isinstance(value, (list, tuple)):
        return all(plain_data_only(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain_data_only(v) for k, v in value.items())
    return False


@pytest.fixture(scope='module')
def slotcon_checkpoint(tmp_path_factory):
    """The SlotCon demo model (narrow ResNet-18), saved in mmengine's layout,
    teacher moved away from the student so that the two can be told apart."""
    cfg = Config.fromfile(DEMO_CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():
        for p in model.teacher.module.backbone.parameters():
            p.add_(1.0)
    path = str(tmp_path_factory.mktemp('slotcon') / 'iter_400.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(iter=400, epoch=0, seed=0, cfg=cfg.pretty_text,
                              dataset_meta=dict(classes=('a', 'b')))), path)
    return dict(path=path, teacher=model.teacher.module.backbone.state_dict(),
                student=model.backbone.state_dict())


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_teacher_is_the_default(slotcon_checkpoint, tmp_path, capsys):
    out = str(tmp_path / 'backbone.pth')
    tool = load_tool('model_converters/extract_backbone.py')
    assert tool.main([slotcon_checkpoint['path'], out]) == 0
    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    _same(ckpt['state_dict'], slotcon_checkpoint['teacher'])
    meta = ckpt['meta']
    assert plain_data_only(meta)
    assert meta['network'] == 'teacher' and meta['prefix'] == 'teacher.module.backbone.'
    # the prefix is SlotCon's own answer, found through the config in the checkpoint
    assert meta['prefix_from'] == 'SlotCon.backbone_prefix'
    assert meta['num_tensors'] == len(slotcon_checkpoint['teacher'])
    assert meta['source_meta']['iter'] == 400 and 'SlotCon' in meta['source_meta']['cfg']
    assert len(meta['source_sha256']) == 64
    printed = capsys.readouterr().out
    assert f'{meta["num_tensors"]} tensors' in printed and 'teacher backbone' in printed
    assert 'blocks per stage (2, 2, 2, 2)' in printed  # ResNet-18
    assert f'wrote {out}' in printed


def test_student(slotcon_checkpoint, tmp_path):
    out = str(tmp_path / 'student.pth')
    tool = load_tool('model_converters/extract_backbone.py')
    assert tool.main([slotcon_checkpoint['path'], out, '--student']) == 0
    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    _same(ckpt['state_dict'], slotcon_checkpoint['student'])
    assert ckpt['meta']['network'] == 'student' and ckpt['meta']['prefix'] == 'backbone.'
    assert ckpt['meta']['prefix_from'] == 'SlotCon.backbone_prefix'
    # the two really differ: the export did not pick the wrong network
    assert not torch.equal(ckpt['state_dict']['conv1.weight'],
                           slotcon_checkpoint['teacher']['conv1.weight'])


def test_refuses_checkpoint_without_backbone(tmp_path, capsys):
    tool = load_tool('model_converters/extract_backbone.py')
    src = str(tmp_path / 'heads_only.pth')
    torch.save(dict(state_dict={'neck.mlp.0.weight': torch.ones(2, 2),
                                'grouping.prototypes': torch.ones(3, 2)}), src)
    out = tmp_path / 'out.pth'
    assert tool.main([src, str(out)]) == 1
    err = capsys.readouterr().err
    assert src in err and 'no teacher backbone' in err and 'neck.mlp.0' in err
    assert not out.exists()
    # a student-only checkpoint: the error says to use --student
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.ones(2, 3, 7, 7)}), src)
    assert tool.main([src, str(out)]) == 1
    assert '--student' in capsys.readouterr().err
    assert tool.main([src, str(out), '--student']) == 0
    # not a model checkpoint at all
    torch.save(dict(meta=dict(iter=1)), src)
    assert tool.main([src, str(out)]) == 1
    assert 'no tensors' in capsys.readouterr().err
    # a missing file
    assert tool.main([str(tmp_path / 'nope.pth'), str(out)]) == 1
    assert 'nope.pth' in capsys.readouterr().err


def test_explicit_prefix_and_generic_stripping():
    sd = {'ema.model.encoder.patch_embed.projection.weight': torch.ones(1),
          'ema.model.encoder.layers.0.ln1.weight': torch.ones(1),
          'backbone.cls_token': torch.zeros(1)}
    backbone, prefix = extract_backbone(sd, prefix='ema.model.encoder')
    assert prefix == 'ema.model.encoder.'
    assert list(backbone) == ['patch_embed.projection.weight', 'layers.0.ln1.weight']
    assert all(p.endswith('backbone.') for ps in NETWORK_PREFIXES.values() for p in ps)


def test_detectron2_key_renames():
    expected = {
        'conv1.weight': 'stem.conv1.weight',
        'bn1.weight': 'stem.conv1.norm.weight',
        'bn1.running_var': 'stem.conv1.norm.running_var',
        'layer1.0.conv1.weight': 'res2.0.conv1.weight',
        'layer1.0.bn3.bias': 'res2.0.conv3.norm.bias',
        'layer1.0.downsample.0.weight': 'res2.0.shortcut.weight',
        'layer1.0.downsample.1.running_mean': 'res2.0.shortcut.norm.running_mean',
        'layer4.2.bn2.weight': 'res5.2.conv2.norm.weight',
        'layer3.5.conv2.weight': 'res4.5.conv2.weight',
    }
    for src, dst in expected.items():
        assert torchvision_to_detectron2_key(src) == dst
    for bad in ('stem.0.weight', 'fc.weight', 'patch_embed.projection.weight'):
        with pytest.raises(KeyError):
            torchvision_to_detectron2_key(bad)


def test_detectron2_export(slotcon_checkpoint, tmp_path):
    out = str(tmp_path / 'backbone.pth')
    tool = load_tool('model_converters/extract_backbone.py')
    assert tool.main([slotcon_checkpoint['path'], out, '--detectron2']) == 0
    with open(detectron2_path(out), 'rb') as f:
        d2 = pickle.load(f)
    assert d2['__author__'] == 'mmdense' and d2['matching_heuristics'] is True
    teacher = slotcon_checkpoint['teacher']
    expected = {torchvision_to_detectron2_key(k): v for k, v in teacher.items()
                if not k.endswith('num_batches_tracked')}
    assert set(d2['model']) == set(expected)
    for key, value in expected.items():
        assert isinstance(d2['model'][key], np.ndarray)
        np.testing.assert_array_equal(d2['model'][key], value.numpy())
    assert 'res5.1.conv2.norm.running_var' in d2['model']


def test_vision_transformer_round_trip(tmp_path):
    """Generic prefix stripping: mmpretrain's VisionTransformer loads the export
    without missing or unexpected keys."""
    from mmpretrain.models import VisionTransformer
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
    torch.manual_seed(0)
    vit = VisionTransformer(arch=arch, img_size=32, patch_size=8)
    vit.init_weights()
    src = str(tmp_path / 'vit_full.pth')
    torch.save(dict(state_dict={f'teacher.module.backbone.{k}': v
                                for k, v in vit.state_dict().items()}), src)
    out = str(tmp_path / 'vit.pth')
    assert load_tool('model_converters/extract_backbone.py').main([src, out]) == 0
    loaded = VisionTransformer(arch=arch, img_size=32, patch_size=8,
                               init_cfg=dict(type='Pretrained', checkpoint=out))
    with LogCapture() as log:
        loaded.init_weights()
    assert not log.mismatches(), log.mismatches()
    _same(loaded.state_dict(), vit.state_dict())


def test_describe_backbone_lines():
    sd = {'conv1.weight': torch.zeros(4, 3, 7, 7), 'layer1.0.conv1.weight': torch.zeros(4, 4, 1, 1),
          'layer2.0.conv1.weight': torch.zeros(8, 4, 1, 1), 'layer2.1.conv1.weight': torch.zeros(8, 8, 1, 1)}
    text = '\n'.join(describe_backbone(sd))
    assert 'blocks per stage (1, 2)' in text and 'last stage outputs 8 channels' in text
