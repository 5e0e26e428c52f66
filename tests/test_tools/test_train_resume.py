# Copyright (c) mmdense contributors. All rights reserved.
"""The demo config through tools/train.py, then resume from its checkpoint."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

TINY = [
    'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'train_dataloader.dataset.num_samples=16',
    'train_dataloader.dataset.img_size=64', 'train_dataloader.dataset.pipeline.0.view_groups.0.size=48',
    'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
]


def run_train(repo_root, work_dir, max_iters, *extra):
    cmd = [sys.executable, osp.join(repo_root, 'tools', 'train.py'),
           osp.join(repo_root, 'configs', 'slotcon', 'slotcon_resnet18-narrow_1xb32-400iters_synthetic.py'),
           '--work-dir', str(work_dir), *extra,
           '--cfg-options', f'train_cfg.max_iters={max_iters}', *TINY]
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_train_then_resume(repo_root, tmp_path):
    work_dir = tmp_path / 'run'
    run_train(repo_root, work_dir, 4)
    ckpt = work_dir / 'iter_4.pth'
    assert ckpt.exists()
    # the checkpoint loads with torch's safe loader (no arbitrary pickles)
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert int(state['state_dict']['teacher.steps']) == 4
    assert 'message_hub' in state and 'optimizer' in state

    log = run_train(repo_root, work_dir, 6, '--resume')
    assert 'resumed' in log.lower() or 'Resumed' in log
    state = torch.load(work_dir / 'iter_6.pth', map_location='cpu', weights_only=True)
    assert state['meta']['iter'] == 6
    # the teacher's schedule continued rather than restarted
    assert int(state['state_dict']['teacher.steps']) == 6
    center = state['state_dict']['group_loss.center']
    assert torch.isfinite(center).all() and center.abs().sum() > 0
