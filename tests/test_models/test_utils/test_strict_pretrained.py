# Copyright (c) mmdense contributors. All rights reserved.
"""StrictPretrained: a checkpoint that does not cover the module is refused
(naming the file, the prefix tried and the prefixes the file has) before
anything is loaded; a fitting one is loaded exactly."""
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmdense.models.utils.strict_pretrained import (StrictPretrained, StrictPretrainedError,
                                                    prefixes_holding)
from tests.harness.logs import LogCapture


class TinyNet(BaseModule):
    """A ResNet-shaped toy: stem conv + BN and two 'stages'."""

    def __init__(self, init_cfg=None, width=4):
        super().__init__(init_cfg=init_cfg)
        self.conv1 = nn.Conv2d(3, width, 3)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = nn.Sequential(nn.Conv2d(width, width, 1), nn.BatchNorm2d(width))
        self.layer2 = nn.Sequential(nn.Conv2d(width, 2 * width, 1), nn.BatchNorm2d(2 * width))


def _state(seed=0, width=4):
    torch.manual_seed(seed)
    net = TinyNet(width=width)
    with torch.no_grad():
        for buf in net.buffers():
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.fixture
def files(tmp_path):
    backbone = _state(seed=1)
    paths = {}
    paths['export'] = str(tmp_path / 'backbone.pth')
    torch.save({'state_dict': backbone, 'meta': {}}, paths['export'])
    full = {'teacher.module.backbone.' + k: v for k, v in backbone.items()}
    full.update({'backbone.' + k: v for k, v in backbone.items()})
    full['neck.mlp.weight'] = torch.zeros(2, 2)
    paths['full'] = str(tmp_path / 'epoch_800.pth')
    torch.save({'state_dict': full}, paths['full'])
    no_stage = {k: v for k, v in backbone.items() if not k.startswith('layer2.')}
    paths['no_stage'] = str(tmp_path / 'no_layer2.pth')
    torch.save({'state_dict': no_stage}, paths['no_stage'])
    wide = _state(seed=2, width=8)
    paths['wide'] = str(tmp_path / 'wide.pth')
    torch.save(wide, paths['wide'])  # a bare state dict
    return paths, backbone


def _assert_unchanged(net, before):
    after = net.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items()), 'something was loaded'


def test_exported_backbone_is_loaded_exactly(files):
    paths, expected = files
    net = TinyNet()
    with LogCapture() as log:
        StrictPretrained(paths['export'])(net)
    state = net.state_dict()
    assert set(state) == set(expected)
    assert all(torch.equal(state[k], v) for k, v in expected.items())
    assert any('load model from' in m and paths['export'] in m for m in log.messages)


@pytest.mark.parametrize('prefix', ['teacher.module.backbone.', 'teacher.module.backbone'])
def test_full_checkpoint_with_its_prefix_is_loaded_exactly(files, prefix):
    paths, expected = files
    net = TinyNet()
    StrictPretrained(paths['full'], prefix=prefix)(net)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in expected.items())


def test_a_checkpoint_missing_a_stage_is_refused(files):
    paths, _ = files
    net = TinyNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(StrictPretrainedError) as err:
        StrictPretrained(paths['no_stage'])(net)
    message = str(err.value)
    assert paths['no_stage'] in message
    assert '(no prefix)' in message  # the prefix tried
    assert 'layer2.0.weight' in message and 'missing' in message
    assert 'layer1.0.weight' not in message.split('missing')[1].split('\n')[0]
    assert 'top-level prefixes: bn1., conv1., layer1.' in message
    _assert_unchanged(net, before)


def test_a_wrong_prefix_is_refused_naming_the_prefixes_the_file_has(files):
    paths, _ = files
    net = TinyNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(StrictPretrainedError) as err:
        StrictPretrained(paths['full'], prefix='student.backbone.')(net)
    message = str(err.value)
    assert paths['full'] in message and "'student.backbone.'" in message
    assert "'teacher.module.backbone.' (" in message and "'backbone.' (" in message
    assert 'backbone., neck., teacher.' in message  # its top-level prefixes
    _assert_unchanged(net, before)
    # no prefix at all on a full checkpoint: the same refusal
    with pytest.raises(StrictPretrainedError, match='teacher.module.backbone'):
        StrictPretrained(paths['full'])(net)


def test_another_shape_is_refused(files):
    paths, _ = files
    with pytest.raises(StrictPretrainedError, match=r'another shape[\s\S]*conv1\.weight'):
        StrictPretrained(paths['wide'])(TinyNet())


def test_extra_keys_of_the_file_are_tolerated_with_one_warning(tmp_path, files):
    _, backbone = files
    path = str(tmp_path / 'extra.pth')
    torch.save({'state_dict': dict(backbone, **{'fc.weight': torch.zeros(3, 3)})}, path)
    net = TinyNet()
    with LogCapture() as log:
        StrictPretrained(path)(net)
    assert sum('fc.weight' in m for m in log.messages) == 1
    assert torch.equal(net.state_dict()['conv1.weight'], backbone['conv1.weight'])


def test_prefixes_holding():
    module_keys = ['conv1.weight', 'layer1.0.weight']
    state = {'a.b.conv1.weight': 0, 'a.b.layer1.0.weight': 0, 'conv1.weight': 0, 'x.y': 0}
    assert dict(prefixes_holding(state, module_keys)) == {'a.b.': 2, '': 1}


@pytest.mark.parametrize('scope', ['mmseg', 'mmdet', 'mmdense'])
def test_init_cfg_resolves_from_downstream_scopes(files, scope):
    """What the benchmark configs write: type='mmdense.StrictPretrained' under
    default_scope 'mmseg' / 'mmdet', through BaseModule.init_weights."""
    pytest.importorskip(scope if scope != 'mmdense' else 'mmengine')
    from mmengine.registry import DefaultScope, init_default_scope
    paths, expected = files
    saved = dict(DefaultScope._instance_dict)
    try:
        init_default_scope(scope)
        net = TinyNet(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=paths['full'],
                                    prefix='teacher.module.backbone.'))
        net.init_weights()
        assert all(torch.equal(net.state_dict()[k], v) for k, v in expected.items())
        bad = TinyNet(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=paths['full']))
        with pytest.raises(StrictPretrainedError):
            bad.init_weights()
    finally:
        DefaultScope._instance_dict = saved


def test_keep_init_tolerates_only_the_named_keys(files):
    paths, backbone = files
    # layer2 is new (absent from the file): allowed by keep_init, and keeps its init
    net = TinyNet(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=paths['no_stage'],
                                keep_init=['layer2.']))
    own_layer2 = {k: v.clone() for k, v in net.layer2.state_dict().items()}
    with LogCapture() as log:
        net.init_weights()
    state = net.state_dict()
    assert all(torch.equal(state[k], v) for k, v in backbone.items() if not k.startswith('layer2.'))
    assert all(torch.equal(net.layer2.state_dict()[k], v) for k, v in own_layer2.items())
    assert any('keep their own initialisation' in m for m in log.messages)
    # loaded children are marked initialised (their own init_weights must not run), the
    # kept one is not
    assert net.layer1.is_init and net.conv1.is_init and not getattr(net.layer2, 'is_init', False)
    # keep_init names only what it names: another missing stage is still an error
    net = TinyNet(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=paths['no_stage'],
                                keep_init=['layer1.']))
    with pytest.raises(StrictPretrainedError, match='layer2'):
        net.init_weights()


class _Redraws(nn.Module):
    """A child with an initialiser of its own (as mmcv's ConvModule)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)

    def init_weights(self):
        nn.init.constant_(self.conv.weight, 7.)
        nn.init.constant_(self.conv.bias, 7.)


class _Decoder(BaseModule):

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.bottleneck = _Redraws()
        self.conv_seg = _Redraws()


def test_loaded_children_are_not_redrawn_and_kept_ones_initialise(tmp_path):
    """mmengine runs a child's own init_weights after a non-'Pretrained' init_cfg:
    without the marks the loaded bottleneck would be redrawn to 7."""
    torch.manual_seed(0)
    trained = _Decoder().state_dict()
    path = str(tmp_path / 'decoder.pth')
    torch.save({'state_dict': {k: v for k, v in trained.items() if not k.startswith('conv_seg.')}},
               path)
    net = _Decoder(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=path,
                                 keep_init=['conv_seg.']))
    net.init_weights()
    assert torch.equal(net.bottleneck.conv.weight, trained['bottleneck.conv.weight'])
    assert torch.all(net.conv_seg.conv.weight == 7.)  # the kept child ran its own init
