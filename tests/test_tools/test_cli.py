# Copyright (c) mmdense contributors. All rights reserved.
"""tools/train.py and tools/test.py: argument parsing, config merging, --amp."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config

from tests.harness.paths import REPO as REPO_ROOT


def _load_tool(name):
    path = osp.join(REPO_ROOT, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'mmdense_tools_{name}',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_tool_help(tool):
    proc = subprocess.run(
        [sys.executable,
         osp.join(REPO_ROOT, 'tools', f'{tool}.py'), '--help'],
        capture_output=True,
        text=True,
        timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '--cfg-options' in proc.stdout and '--launcher' in proc.stdout


@pytest.fixture
def toy_config(tmp_path):
    path = tmp_path / 'toy_cfg.py'
    path.write_text(
        textwrap.dedent('''
        optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))
        train_dataloader = dict(batch_size=2)
        auto_scale_lr = dict(base_batch_size=16)
    '''))
    return str(path)


def test_train_merge_args(toy_config):
    train = _load_tool('train')
    args = train.parse_args([
        toy_config, '--cfg-options', 'optim_wrapper.optimizer.lr=0.5',
        'train_dataloader.batch_size=8', '--launcher', 'pytorch'
    ])
    cfg = train.merge_args(Config.fromfile(toy_config), args)
    assert cfg.optim_wrapper.optimizer.lr == 0.5
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.launcher == 'pytorch'
    assert cfg.work_dir == osp.join('./work_dirs', 'toy_cfg')
    assert cfg.get('resume') is None and 'type' not in cfg.optim_wrapper

    args = train.parse_args(
        [toy_config, '--resume', '--work-dir', 'wd', '--auto-scale-lr'])
    cfg = train.merge_args(Config.fromfile(toy_config), args)
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.work_dir == 'wd' and cfg.auto_scale_lr.enable is True
    args = train.parse_args([toy_config, '--resume', 'a.pth'])
    cfg = train.merge_args(Config.fromfile(toy_config), args)
    assert cfg.resume is True and cfg.load_from == 'a.pth'


def test_train_amp_on_cuda_and_cpu(toy_config):
    train = _load_tool('train')
    cfg = Config.fromfile(toy_config)
    train.enable_amp(cfg, device='cuda')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'

    cfg = Config.fromfile(toy_config)
    train.enable_amp(cfg, device='cpu')
    assert cfg.optim_wrapper.type == 'CPUAmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert 'loss_scale' not in cfg.optim_wrapper

    args = train.parse_args([toy_config, '--amp'])
    cfg = train.merge_args(Config.fromfile(toy_config), args)
    expected = 'AmpOptimWrapper' if torch.cuda.is_available() \
        else 'CPUAmpOptimWrapper'
    assert cfg.optim_wrapper.type == expected

    # per-parameter clipping survives --amp on both kinds of device, whatever the wrapper
    for device, expected, wrapper in (('cuda', 'PerParamClipAmpOptimWrapper', 'PerParamClipOptimWrapper'),
                                      ('cuda', 'PerParamClipAmpOptimWrapper', 'OptimWrapper'),
                                      ('cuda', 'PerParamClipAmpOptimWrapper', 'CPUAmpOptimWrapper'),
                                      ('cpu', 'CPUAmpOptimWrapper', 'PerParamClipOptimWrapper')):
        cfg = Config.fromfile(toy_config)
        cfg.optim_wrapper.type = wrapper
        cfg.optim_wrapper.clip_grad = dict(max_norm=3.0, per_parameter=True)
        train.enable_amp(cfg, device=device)
        assert cfg.optim_wrapper.type == expected
        assert cfg.optim_wrapper.clip_grad.per_parameter is True


def test_test_merge_args(toy_config):
    test = _load_tool('test')
    args = test.parse_args([
        toy_config, 'ckpt.pth', '--out', 'm.json', '--cfg-options',
        'train_dataloader.batch_size=1'
    ])
    cfg = test.merge_args(Config.fromfile(toy_config), args)
    assert cfg.load_from == 'ckpt.pth' and args.out == 'm.json'
    assert cfg.train_dataloader.batch_size == 1
    assert cfg.launcher == 'none'


LOSS_DTYPES = []


def _register_toy_components():
    """A one-conv model and a 4-image dataset for a real training run."""
    from mmengine.model import BaseModel
    from torch.utils.data import Dataset

    from mmdense.registry import DATASETS, MODELS

    @MODELS.register_module(name='_ToyAmpModel', force=True)
    class ToyModel(BaseModel):

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.conv(torch.stack(inputs))
            LOSS_DTYPES.append(out.dtype)
            return dict(loss=out.float().pow(2).mean())

    @DATASETS.register_module(name='_ToyAmpData', force=True)
    class ToyData(Dataset):

        def __len__(self):
            return 4

        def __getitem__(self, idx):
            return dict(inputs=torch.randn(3, 4, 4))


def test_train_main_amp_one_step_on_cpu(tmp_path, monkeypatch):
    if torch.cuda.is_available():
        pytest.skip('checks the CPU path of --amp')
    # bf16 autocast on a CPU with native bf16 (the fp32 fallback elsewhere is
    # tested in tests/test_engine/test_optimizers/test_amp_optim_wrapper.py)
    monkeypatch.setenv('MMDENSE_ASSUME_BF16', '1')
    _register_toy_components()
    cfg_file = tmp_path / 'toy_amp.py'
    cfg_file.write_text(
        textwrap.dedent('''
        default_scope = 'mmdense'
        model = dict(type='_ToyAmpModel')
        train_dataloader = dict(
            batch_size=2, num_workers=0, dataset=dict(type='_ToyAmpData'),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate'))
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
        optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))
        default_hooks = dict(checkpoint=None)
    '''))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('LOCAL_RANK', '0')  # main() sets it otherwise
    train = _load_tool('train')
    LOSS_DTYPES.clear()
    train.main([
        str(cfg_file), '--amp', '--work-dir',
        str(tmp_path / 'wd'), '--cfg-options', 'experiment_name=toy_amp_cpu'
    ])
    assert LOSS_DTYPES == [torch.bfloat16]
    dumped = Config.fromfile(str(tmp_path / 'wd' / 'toy_amp.py'))
    assert dumped.optim_wrapper.type == 'CPUAmpOptimWrapper'


@pytest.mark.slow
def test_dist_train_sh_with_one_process_on_cpu(tmp_path):
    """``tools/dist_train.sh CONFIG 1`` trains on a CPU-only machine: the
    paper configs' NCCL backend becomes gloo without CUDA."""
    from tests.harness.gloo import free_port
    from tests.harness.reliability import subprocess_env, tiny_config
    config = tiny_config(str(tmp_path / 'cfg.py'), max_iters=2, interval=2,
                         env_cfg=dict(dist_cfg=dict(backend='nccl')))
    env = subprocess_env()
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    env['PORT'] = str(free_port())
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config, '1',
                           '--work-dir', str(tmp_path / 'work')], env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'nccl -> gloo' in out
    assert (tmp_path / 'work' / 'iter_2.pth').exists()
