# Copyright (c) mmdense contributors. All rights reserved.
"""Bad configs fail before anything is built, naming the key."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmdense.registry import MODELS
from mmdense.utils.config_validation import ConfigError, validate_config

from tests.harness.configs import config_problems
from tests.harness.reliability import DEMO, REPO


CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(REPO, 'configs')))
def test_shipped_configs_are_valid(path):
    """No false alarm on any shipped config (mmdense, mmseg and mmdet scopes):
    tools/train.py and tools/test.py refuse what this reports."""
    cfg = Config.fromfile(path)
    validate_config(cfg, 'train')
    validate_config(cfg, 'test')


def test_mmengine_names_the_unexpected_argument_but_not_where(demo):
    demo.model.grouping.num_prototype = 8
    with pytest.raises(TypeError, match='num_prototype'):
        MODELS.build(demo.model)


def test_unknown_key_named_with_suggestion(demo):
    demo.model.grouping.num_prototype = 8
    demo.train_dataloader.batchsize = 4
    demo.train_dataloader.dataset.pipeline[0].sizes = 48
    text = config_problems(demo)
    assert ("model.grouping.num_prototype: unknown argument of SemanticGrouping "
            "(did you mean 'num_prototypes'?)") in text
    assert "train_dataloader.batchsize: unknown dataloader argument (did you mean 'batch_size'?)" \
        in text
    assert 'train_dataloader.dataset.pipeline.0.sizes: unknown argument of ' \
        'MultiViewRandomResizedCrop' in text
    assert '3 problem(s)' in text


def test_unknown_type_named(demo):
    demo.model.neck.type = 'MLPNek'
    demo.default_hooks.checkpoint.type = 'CheckpointHok'
    text = config_problems(demo)
    assert "model.neck.type: unknown model type 'MLPNek' (did you mean 'MLPNeck'?)" in text
    assert "default_hooks.checkpoint.type: unknown hook type 'CheckpointHok'" in text


def test_wrong_types_named(demo):
    demo.model.grouping.num_prototypes = '8'
    demo.model.group_loss_weight = 'half'
    demo.train_dataloader.num_workers = 1.5
    demo.optim_wrapper.optimizer.lr = '2.0'
    text = config_problems(demo)
    assert "model.grouping.num_prototypes: expected int for SemanticGrouping(num_prototypes=...)" \
        ", got str '8'" in text
    assert 'model.group_loss_weight: expected float' in text
    assert 'train_dataloader.num_workers: expected an int >= 0, got 1.5' in text
    assert 'optim_wrapper.optimizer.lr' in text


def test_too_few_prototypes(demo):
    demo.model.grouping.num_prototypes = 1
    demo.model.group_loss.num_prototypes = 1
    assert 'model.grouping.num_prototypes: K must be >= 2' in config_problems(demo)
    demo.model.grouping.num_prototypes = 8
    demo.model.group_loss.num_prototypes = 6
    assert 'model.group_loss.num_prototypes: 6 differs from model.grouping.num_prototypes = 8' \
        in config_problems(demo, 'test')


def test_batch_sizes(demo, monkeypatch):
    demo.train_dataloader.batch_size = 1
    assert 'train_dataloader.batch_size: must be >= 2 per process' in config_problems(demo)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'slotcon', 'slotcon_resnet50_8xb64-coslr-800e_coco.py'))
    cfg.launcher = 'pytorch'
    monkeypatch.setenv('WORLD_SIZE', '3')  # 512 images per step cannot be split in 3
    assert 'auto_scale_lr.base_batch_size: the learning rate is set for 512 images per step, ' \
        'which 3 processes cannot share equally' in config_problems(cfg)
    cfg.auto_scale_lr.enable = True  # --auto-scale-lr rescales instead
    validate_config(cfg)
    monkeypatch.setenv('WORLD_SIZE', '4')  # divisible but 4 x 64 != 512: a warning
    cfg.auto_scale_lr.enable = False
    (warning, ) = validate_config(cfg)
    assert '64 x 4 processes = 256 images per step' in warning
    monkeypatch.setenv('WORLD_SIZE', '8')
    assert validate_config(cfg) == []


def test_crop_larger_than_the_images(demo):
    demo.train_dataloader.dataset.img_size = 64
    text = config_problems(demo)
    assert 'train_dataloader.dataset.pipeline.0.view_groups.0.size: crop 96 x 96 is larger than the images ' \
        '(train_dataloader.dataset.img_size = 64 x 64)' in text


def test_can_be_turned_off(demo, monkeypatch):
    demo.model.grouping.num_prototype = 8
    monkeypatch.setenv('MMDENSE_SKIP_CONFIG_VALIDATION', '1')
    assert validate_config(demo) == []


def test_schedule_mismatch_is_a_warning(demo):
    demo.train_cfg.max_iters = 8
    (warning, ) = validate_config(demo)
    assert 'param_scheduler.1.end = 400 differs from the training length ' \
        'train_cfg.max_iters = 8' in warning


def test_tools_train_validates_before_building(tmp_path, monkeypatch):
    """``tools/train.py`` stops at a bad key before the runner is built."""
    import importlib.util
    source = open(osp.join(REPO, 'tools', 'train.py')).read()
    if 'validate_config' not in source:
        pytest.skip('tools/train.py does not call validate_config yet (see the report diff)')
    spec = importlib.util.spec_from_file_location('_train', osp.join(REPO, 'tools', 'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    from mmengine.runner import Runner

    def built(*args, **kwargs):
        raise AssertionError('the runner was built')
    monkeypatch.setattr(Runner, 'from_cfg', built)
    with pytest.raises(ConfigError, match='model.grouping.num_prototypes: K must be >= 2'):
        train.main([DEMO, '--work-dir', str(tmp_path),
                    '--cfg-options', 'model.grouping.num_prototypes=1',
                    'model.group_loss.num_prototypes=1'])
