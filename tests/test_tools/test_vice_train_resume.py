# Copyright (c) mmdense contributors. All rights reserved.
"""The ViCE demo config trains through tools/train.py, and a run resumed from
a checkpoint ends with the same weights, optimizer state, prototype schedule
counter and region queue as an uninterrupted one."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests.harness.paths import REPO
from tests.harness.reliability import assert_same_state, logged_scalars, train_in_process

DEMO = osp.join(REPO, 'configs', 'vice', 'vice_resnet18-narrow-fpn_1xb8-200iters_synthetic.py')
MAX_ITERS, INTERVAL = 6, 3


def tiny_vice_config(path: str) -> str:
    """The demo shrunk to seconds: 4 scenes of 64 px per step, 5 views of 32 px,
    queue from iteration 2, prototypes frozen for 2 iterations."""
    cfg = Config.fromfile(DEMO)
    loader = cfg.train_dataloader
    loader.batch_size = 4
    loader.num_workers = 0
    loader.persistent_workers = False
    loader.dataset.num_samples = 16
    loader.dataset.img_size = 64
    crop = next(t for t in loader.dataset.pipeline if t.type == 'MultiViewRandomResizedCrop')
    crop.view_groups[0].size = 32
    cfg.model.swav_loss.update(queue_length=64, queue_start_iter=2, freeze_prototypes_iters=2)
    cfg.train_cfg.max_iters = MAX_ITERS
    cfg.train_cfg.val_interval = MAX_ITERS + 1
    cfg.default_hooks.checkpoint = dict(type='SafeCheckpointHook', interval=INTERVAL,
                                        by_epoch=False, max_keep_ckpts=3)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(by_epoch=False, window_size=1, custom_cfg=[])
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.dump(path)
    return path


@pytest.mark.slow
def test_demo_trains_and_resumes_exactly(tmp_path):
    config = tiny_vice_config(str(tmp_path / 'vice_tiny.py'))
    train_in_process(config, tmp_path / 'ref')
    ref = logged_scalars(str(tmp_path / 'ref'))
    assert sorted(ref) == list(range(1, MAX_ITERS + 1))
    assert all(v['loss_swav'] > 0 for v in ref.values())
    work = tmp_path / 'resumed'
    out = train_in_process(config, work, '--resume', str(tmp_path / 'ref' / f'iter_{INTERVAL}.pth'))
    assert f'resumed epoch: 0, iter: {INTERVAL}' in out
    resumed = logged_scalars(str(work), newest_only=True)
    for it in range(INTERVAL + 1, MAX_ITERS + 1):
        assert resumed[it]['loss_swav'] == ref[it]['loss_swav'], it
    a = torch.load(tmp_path / 'ref' / f'iter_{MAX_ITERS}.pth', map_location='cpu',
                   weights_only=True)
    b = torch.load(work / f'iter_{MAX_ITERS}.pth', map_location='cpu', weights_only=True)
    assert int(b['state_dict']['swav_loss.step']) == MAX_ITERS
    assert int(b['state_dict']['swav_loss.queue.num_filled']) > 0
    assert_same_state(a['state_dict'], b['state_dict'], 'state_dict')
    assert_same_state(a['optimizer'], b['optimizer'], 'optimizer')
