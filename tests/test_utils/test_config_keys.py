# Copyright (c) mmdense contributors. All rights reserved.
"""Misspelt hook arguments and top-level keys are reported before training,
with a did-you-mean; helper variables and benchmark configs are left alone."""
import difflib
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmdense.registry import HOOKS
from mmdense.utils.config_validation import (MMENGINE_TOP_LEVEL_KEYS, TOP_LEVEL_CUTOFF,
                                             ConfigError, known_top_level_keys,
                                             validate_config)

from tests.harness.configs import config_problems
from tests.harness.reliability import DEMO, REPO


def _tool(name):
    spec = importlib.util.spec_from_file_location(f'_keys_{name}',
                                                  osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- hook arguments
def test_mmengine_checkpoint_hook_swallows_a_misspelt_argument():
    """Why it must be checked: CheckpointHook keeps unknown arguments for
    runner.save_checkpoint(), so the typo only fails at the first save."""
    hook = HOOKS.build(dict(type='SafeCheckpointHook', intervall=10))
    assert hook.interval == -1 and hook.args == {'intervall': 10}


def test_misspelt_hook_arguments(demo):
    demo.default_hooks.checkpoint.intervall = 10
    demo.default_hooks.logger.intervl = 5
    demo.default_hooks.param_scheduler = dict(type='ParamSchedulerHook', by_epoch=False)
    demo.custom_hooks = [dict(type='RandomStateHook'),
                         dict(type='SafeCheckpointHook', interval=5, max_keep_ckpt=1)]
    text = config_problems(demo)
    assert ("default_hooks.checkpoint.intervall: unknown argument of SafeCheckpointHook "
            "(did you mean 'interval'?)") in text
    assert "default_hooks.logger.intervl: unknown argument of LoggerHook " \
        "(did you mean 'interval'?)" in text
    # a hook without __init__ takes no argument at all
    assert 'default_hooks.param_scheduler.by_epoch: unknown argument of ParamSchedulerHook' \
        in text
    assert ("custom_hooks.1.max_keep_ckpt: unknown argument of SafeCheckpointHook "
            "(did you mean 'max_keep_ckpts'?)") in text
    assert '4 problem(s)' in text


def test_valid_hook_arguments_pass(demo):
    demo.default_hooks.checkpoint = dict(type='SafeCheckpointHook', interval=5, by_epoch=False,
                                         max_keep_ckpts=1, save_last=True, check_finite=True,
                                         filename_tmpl='iter_{}.pth', out_dir=None)
    validate_config(demo)


# ---------------------------------------------------------------- top-level keys
@pytest.mark.parametrize('typo,meant', [('train_dataloder', 'train_dataloader'),
                                        ('param_schedulers', 'param_scheduler'),
                                        ('optim_wraper', 'optim_wrapper'),
                                        ('defualt_hooks', 'default_hooks'),
                                        ('custom_hook', 'custom_hooks'),
                                        ('load_form', 'load_from'),
                                        ('vis_backend', 'vis_backends')])
def test_misspelt_top_level_key(demo, typo, meant):
    demo.merge_from_dict({typo: dict(batch_size=8)})
    text = config_problems(demo)
    assert f"{typo}: unknown top-level key (did you mean '{meant}'?)" in text
    assert 'would ignore it' in text
    # test mode too (tools/test.py)
    assert f"did you mean '{meant}'?" in config_problems(demo, 'test')


def test_all_typos_in_one_error(demo):
    demo.merge_from_dict(dict(train_dataloder=dict(batch_size=8), optim_wraper=dict(),
                              defualt_hooks=dict(), param_schedulers=[]))
    text = config_problems(demo)
    assert '4 problem(s)' in text


def test_helper_variables_are_not_flagged(demo):
    """Top-level keys are open-ended: only those close to a known one count."""
    demo.merge_from_dict(dict(crop_size=96, num_classes=8, data_root='data/x', my_helper=1,
                              img_norm_cfg=dict(mean=[0, 0, 0]), dataset_type='X',
                              train_pipeline=[], _private=3))
    validate_config(demo)
    known = known_top_level_keys()
    for helper in ('crop_size', 'num_classes', 'data_root', 'my_helper', 'dataset_type'):
        assert not difflib.get_close_matches(helper, known, n=1, cutoff=TOP_LEVEL_CUTOFF)


def test_known_keys():
    import inspect
    known = set(known_top_level_keys())
    runner_args = set(inspect.signature(Runner.__init__).parameters) - {'self', 'cfg'}
    assert runner_args <= known
    assert set(MMENGINE_TOP_LEVEL_KEYS) <= known
    for key in ('custom_imports', 'default_scope', 'vis_backends', 'randomness', 'env_cfg',
                'model_wrapper_cfg', 'strategy', 'compile'):
        assert key in known


def test_tools_report_typos_before_building(tmp_path, monkeypatch):
    def built(*args, **kwargs):
        raise AssertionError('the runner was built')
    monkeypatch.setattr(Runner, 'from_cfg', built)
    with pytest.raises(ConfigError, match="optim_wraper: unknown top-level key "
                       r"\(did you mean 'optim_wrapper'\?\)"):
        _tool('train').main([DEMO, '--work-dir', str(tmp_path),
                             '--cfg-options', 'optim_wraper.optimizer.lr=0.1'])
    with pytest.raises(ConfigError, match="default_hooks.checkpoint.intervall"):
        _tool('train').main([DEMO, '--work-dir', str(tmp_path),
                             '--cfg-options', 'default_hooks.checkpoint.intervall=3'])
    with pytest.raises(ConfigError, match="test_dataloder: unknown top-level key"):
        _tool('test').main([DEMO, 'ckpt.pth', '--work-dir', str(tmp_path),
                            '--cfg-options', 'test_dataloder.batch_size=1'])


# ---------------------------------------------------------------- other scopes
BENCHMARKS = [osp.join(REPO, 'configs', 'benchmarks', p) for p in (
    'fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py',
    'linear_seg/linear_r50-d16_8xb2-40k_voc12aug-448x448.py',
    'mask_rcnn/mask-rcnn_r50_fpn_syncbn-4conv1fc_1x_coco.py')]


@pytest.mark.parametrize('path', BENCHMARKS, ids=osp.basename)
def test_benchmark_with_batch_size_one_validates(path):
    """mmseg/mmdet models declare no min_train_batch_size: the self-supervised
    rule (>= 2 images per process) does not apply to them."""
    if not osp.isfile(path):
        pytest.skip(f'{path} is not shipped')
    cfg = Config.fromfile(path)
    assert cfg.default_scope in ('mmseg', 'mmdet')
    cfg.train_dataloader.batch_size = 1
    validate_config(cfg, 'train')
    validate_config(cfg, 'test')


def test_the_self_supervised_rule_still_applies(demo):
    demo.train_dataloader.batch_size = 1
    assert 'train_dataloader.batch_size: must be >= 2 per process' in config_problems(demo)
