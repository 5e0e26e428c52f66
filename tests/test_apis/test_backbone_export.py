# Copyright (c) mmdense contributors. All rights reserved.
"""mmdense.apis.backbone_export: the prefix comes from the method's class."""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from mmdense.apis.backbone_export import (BackboneNotFoundError, config_model_type,
                                          export_backbone, registered_method,
                                          resolve_backbone_prefix)
from mmdense.registry import MODELS

from tests.harness.paths import REPO


@MODELS.register_module(name='_ToyExportMethod', force=True)
class ToyExportMethod(nn.Module):
    """A registered method whose backbones live under non-default prefixes."""

    @classmethod
    def backbone_prefix(cls, network: str = 'teacher') -> str:
        return 'ema.model.encoder.' if network == 'teacher' else 'online.encoder.'


def _state_dict(prefixes=('ema.model.encoder.', 'online.encoder.', 'teacher.module.backbone.')):
    """One tensor per prefix, told apart by value; 'teacher.module.backbone.' is
    the decoy the key heuristics would pick."""
    return {f'{p}conv.weight': torch.full((2, 3, 1, 1), float(i))
            for i, p in enumerate(prefixes)}


def _cfg_text(model_type: str) -> str:
    return Config(dict(model=dict(type=model_type, backbone=dict(type='ResNet', depth=18)),
                       default_scope='mmdense')).pretty_text


def _save(path, model_type=None, prefixes=None):
    meta = dict(iter=10)
    if model_type is not None:
        meta['cfg'] = _cfg_text(model_type)
    sd = _state_dict() if prefixes is None else _state_dict(prefixes)
    torch.save(dict(state_dict=sd, meta=meta), str(path))
    return str(path)


def _load_tool():
    path = osp.join(REPO, 'tools', 'model_converters', 'extract_backbone.py')
    spec = importlib.util.spec_from_file_location('mmdense_tool_extract_backbone_apis', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prefix_comes_from_the_class_interface(tmp_path, capsys):
    src = _save(tmp_path / 'toy.pth', '_ToyExportMethod')
    out = str(tmp_path / 'teacher.pth')
    result = export_backbone(src, out)
    meta = result['meta']
    assert meta['prefix'] == 'ema.model.encoder.' and meta['network'] == 'teacher'
    assert meta['prefix_from'] == 'ToyExportMethod.backbone_prefix'
    saved = torch.load(out, map_location='cpu', weights_only=True)
    assert list(saved['state_dict']) == ['conv.weight']
    assert torch.all(saved['state_dict']['conv.weight'] == 0)  # not the decoy (2)
    # the student, through the command-line tool
    out = str(tmp_path / 'student.pth')
    assert _load_tool().main([src, out, '--student']) == 0
    saved = torch.load(out, map_location='cpu', weights_only=True)
    assert saved['meta']['prefix'] == 'online.encoder.'
    assert torch.all(saved['state_dict']['conv.weight'] == 1)
    assert 'from ToyExportMethod.backbone_prefix' in capsys.readouterr().out


def test_explicit_prefix_wins(tmp_path):
    src = _save(tmp_path / 'toy.pth', '_ToyExportMethod')
    meta = export_backbone(src, str(tmp_path / 'b.pth'), prefix='teacher.module.backbone')['meta']
    assert meta['prefix'] == 'teacher.module.backbone.' and meta['prefix_from'] == 'argument'
    assert meta['network'] == 'teacher'  # a known prefix of the asked network
    meta = export_backbone(src, str(tmp_path / 'c.pth'), prefix='online.encoder.')['meta']
    assert meta['network'] == 'custom'


@pytest.mark.parametrize('model_type', [None, '_NotARegisteredMethod', 'ResNet'])
def test_heuristics_without_a_dense_method_in_the_config(tmp_path, model_type):
    # no config, an unknown type, a registered class without backbone_prefix
    src = _save(tmp_path / 'plain.pth', model_type)
    meta = export_backbone(src, str(tmp_path / 'b.pth'))['meta']
    assert meta['prefix'] == 'teacher.module.backbone.'
    assert meta['prefix_from'] == 'key heuristics'


def test_class_prefix_missing_from_the_checkpoint(tmp_path, capsys):
    src = _save(tmp_path / 'toy.pth', '_ToyExportMethod',
                prefixes=('teacher.module.backbone.', 'backbone.'))
    with pytest.raises(BackboneNotFoundError, match=r"_ToyExportMethod.*'ema\.model\.encoder\.'"):
        export_backbone(src, str(tmp_path / 'b.pth'))
    assert _load_tool().main([src, str(tmp_path / 'b.pth')]) == 1
    assert 'ToyExportMethod.backbone_prefix' in capsys.readouterr().err
    # a raw DDP state dict ('module.' in front) is still found
    ddp = _save(tmp_path / 'ddp.pth', '_ToyExportMethod', prefixes=('module.ema.model.encoder.', ))
    meta = export_backbone(ddp, str(tmp_path / 'd.pth'))['meta']
    assert meta['prefix'] == 'module.ema.model.encoder.'


def test_config_model_type_parses_without_running():
    assert config_model_type(_cfg_text('SlotCon')) == 'SlotCon'
    assert config_model_type("raise RuntimeError('ran')\nmodel = {'type': 'X', 'a': 1}\n") == 'X'
    assert config_model_type("model = dict(type='A')\nmodel = dict(type='B')\n") == 'B'
    assert config_model_type(dict(model=dict(type='Y'))) == 'Y'
    assert config_model_type('model = dict(type=name)') is None
    assert config_model_type('not python (') is None
    assert config_model_type(None) is None and config_model_type(3) is None
    assert registered_method('_ToyExportMethod') is ToyExportMethod
    assert registered_method('mmdense._ToyExportMethod') is ToyExportMethod
    assert registered_method('ResNet') is None and registered_method(None) is None


def test_resolve_needs_a_known_network():
    with pytest.raises(ValueError, match='network'):
        resolve_backbone_prefix({}, _state_dict(), network='ema')


def test_nonfinite_checkpoint_is_refused(tmp_path, capsys):
    """NaN/Inf weights (anywhere in the checkpoint) are refused, naming the
    file and the first offending keys; nothing is written."""
    from mmdense.utils.checkpoint_compat import NonFiniteCheckpointError
    sd = _state_dict()
    sd['online.encoder.conv.weight'][0, 0] = float('nan')
    sd['head.weight'] = torch.tensor([1.0, float('inf')])
    src = str(tmp_path / 'nan.pth')
    torch.save(dict(state_dict=sd, meta=dict(cfg=_cfg_text('_ToyExportMethod'))), src)
    out = tmp_path / 'b.pth'
    with pytest.raises(NonFiniteCheckpointError) as err:
        export_backbone(src, str(out))
    text = str(err.value)
    assert src in text and 'online.encoder.conv.weight, head.weight' in text
    assert not out.exists()
    # the command-line tool reports it as an error
    assert _load_tool().main([src, str(out)]) == 1
    assert 'NaN/Inf' in capsys.readouterr().err and not out.exists()
