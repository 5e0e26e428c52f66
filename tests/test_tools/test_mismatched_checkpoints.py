# Copyright (c) mmdense contributors. All rights reserved.
"""A checkpoint of another configuration (K = 16 prototypes loaded into a
K = 8 model), a backbone-only file and NaN weights are refused by --resume,
load_from and tools/test.py with one message, before anything trains or
evaluates."""
import importlib.util
import os.path as osp
import shutil

import pytest
import torch

from mmdense.utils.checkpoint_compat import CheckpointMismatchError, NonFiniteCheckpointError

from tests.harness.paths import REPO
from tests.harness.reliability import tiny_config, train_in_process

# a small test set, read in the main process
TINY_TEST = {
    'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False,
    'test_dataloader.batch_size': 2, 'test_dataloader.dataset.num_samples': 2,
    'test_dataloader.dataset.img_size': 64,
}


def _config(folder, name: str, k: int, max_iters: int = 2, **changes) -> str:
    return tiny_config(str(folder / f'{name}.py'), max_iters=max_iters, interval=2,
                       **{'model.grouping.num_prototypes': k, 'experiment_name': name},
                       **TINY_TEST, **changes)


@pytest.fixture(scope='module')
def k16(tmp_path_factory):
    """``(config, checkpoint)`` of 2 iterations with K = 16."""
    folder = tmp_path_factory.mktemp('k16')
    config = _config(folder, 'slotcon_k16', 16)
    train_in_process(config, str(folder / 'run'))
    ckpt = folder / 'run' / 'iter_2.pth'
    assert ckpt.exists()
    return config, str(ckpt)


def _test_tool():
    spec = importlib.util.spec_from_file_location('_mmdense_tools_test_mismatch',
                                                  osp.join(REPO, 'tools', 'test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_lists_the_prototypes(text: str, ckpt: str) -> None:
    assert text.count('Checkpoint ') == 1 and ckpt in text
    assert 'key(s) with another shape (checkpoint vs model)' in text
    # both shapes of the prototypes, student and teacher
    assert 'grouping.prototypes: (16, 128) in the checkpoint, (8, 128) in the model' \
        in text, text
    assert 'teacher.module.grouping.prototypes' in text


def test_resume_with_another_k_is_refused_before_training(k16, tmp_path):
    _, ckpt = k16
    config = _config(tmp_path, 'slotcon_k8_resume', 8, max_iters=4)
    work = tmp_path / 'run'
    with pytest.raises(CheckpointMismatchError) as err:
        train_in_process(config, str(work), '--resume', ckpt)
    _assert_lists_the_prototypes(str(err.value), ckpt)
    assert 'would resume another network' in str(err.value)
    assert not list(work.glob('iter_*.pth'))  # nothing trained


def test_auto_resume_names_the_file(k16, tmp_path):
    _, ckpt = k16
    config = _config(tmp_path, 'slotcon_k8_auto', 8, max_iters=4)
    work = tmp_path / 'run'
    work.mkdir()
    copy = str(work / 'iter_2.pth')
    shutil.copy(ckpt, copy)
    (work / 'last_checkpoint').write_text(copy)
    with pytest.raises(CheckpointMismatchError) as err:
        train_in_process(config, str(work), '--resume')
    _assert_lists_the_prototypes(str(err.value), copy)
    assert not (work / 'iter_4.pth').exists()


def test_load_from_with_another_k_is_refused(k16, tmp_path):
    _, ckpt = k16
    config = _config(tmp_path, 'slotcon_k8_load', 8, load_from=ckpt)
    with pytest.raises(CheckpointMismatchError) as err:
        train_in_process(config, str(tmp_path / 'run'))
    _assert_lists_the_prototypes(str(err.value), ckpt)
    assert not list((tmp_path / 'run').glob('iter_*.pth'))


def test_resume_of_the_same_config_still_works(k16, tmp_path):
    config, ckpt = k16
    config3 = _config(tmp_path, 'slotcon_k16_resume', 16, max_iters=3)
    train_in_process(config3, str(tmp_path / 'run'), '--resume', ckpt)
    state = torch.load(str(tmp_path / 'run' / 'iter_3.pth'), map_location='cpu',
                       weights_only=True)
    assert state['meta']['iter'] == 3


def test_test_tool_refuses_another_k(k16, tmp_path):
    _, ckpt = k16
    config = _config(tmp_path, 'slotcon_k8_test', 8)
    with pytest.raises(CheckpointMismatchError) as err:
        _test_tool().main([config, ckpt, '--work-dir', str(tmp_path / 'test')])
    _assert_lists_the_prototypes(str(err.value), ckpt)
    assert 'would evaluate a partly random network' in str(err.value)


def test_test_tool_refuses_a_backbone_only_file(k16, tmp_path):
    from mmdense.apis import export_backbone
    config, ckpt = k16
    backbone = str(tmp_path / 'backbone.pth')
    export_backbone(ckpt, backbone)
    with pytest.raises(CheckpointMismatchError) as err:
        _test_tool().main([config, backbone, '--work-dir', str(tmp_path / 'test')])
    text = str(err.value)
    assert backbone in text and 'key(s) of the model missing from the checkpoint' in text
    assert 'would evaluate a partly random network' in text
    assert 'backbone-only' in text


def test_test_tool_refuses_nan_weights(k16, tmp_path):
    config, ckpt = k16
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    weights = state['state_dict']
    key = next(k for k in weights if k.startswith('neck.') and weights[k].is_floating_point())
    weights[key].view(-1)[0] = float('nan')
    bad = str(tmp_path / 'nan.pth')
    torch.save(state, bad)
    with pytest.raises(NonFiniteCheckpointError) as err:
        _test_tool().main([config, bad, '--work-dir', str(tmp_path / 'test')])
    assert bad in str(err.value) and key in str(err.value)


def test_test_tool_evaluates_a_matching_checkpoint(k16, tmp_path):
    config, ckpt = k16
    metrics = _test_tool().main([config, ckpt, '--work-dir', str(tmp_path / 'test'),
                                 '--cfg-options', 'test_evaluator.num_clusters=16'])
    assert metrics


def test_the_tools_hook_is_found_from_other_scopes():
    """Benchmark configs (default_scope mmseg/mmdet) build it too; a hook the
    config configures itself is kept."""
    from mmengine.config import Config
    from mmengine.registry import HOOKS, DefaultScope

    from mmdense.engine.hooks.checkpoint_match_hook import (CheckpointMatchHook,
                                                            add_checkpoint_match_hook)
    for scope in ('mmseg', 'mmdense'):
        cfg = Config(dict(default_scope=scope, custom_hooks=[dict(type='RandomStateHook')]))
        add_checkpoint_match_hook(cfg, allow_missing=False)
        assert len(cfg.custom_hooks) == 2
        with DefaultScope.overwrite_default_scope(scope):
            hook = HOOKS.build(cfg.custom_hooks[-1])
        assert isinstance(hook, CheckpointMatchHook) and hook.allow_missing is False
        add_checkpoint_match_hook(cfg)  # once only
        assert len(cfg.custom_hooks) == 2
    cfg = Config(dict(default_scope='mmdense',
                      custom_hooks=[dict(type='CheckpointMatchHook', allow_missing=True)]))
    add_checkpoint_match_hook(cfg, allow_missing=False)
    assert cfg.custom_hooks == [dict(type='CheckpointMatchHook', allow_missing=True)]
