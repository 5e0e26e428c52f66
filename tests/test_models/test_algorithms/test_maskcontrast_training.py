# Copyright (c) mmdense contributors. All rights reserved.
"""MaskContrast trains through ``tools/train.py`` (the demo config, shrunk),
and a run interrupted after a checkpoint and resumed ends bit-identical to an
uninterrupted one: weights, the momentum key network and its step counter,
the prototype queue and its pointer, SGD momentum, the poly schedule."""
import pytest
import torch

from tests.harness.maskcontrast_tiny import StopTraining, tiny_train_config
from tests.harness.reliability import assert_same_state, logged_scalars, train_in_process

MAX_ITERS, INTERVAL = 6, 3


@pytest.mark.slow
def test_demo_trains_and_resumes_exactly(tmp_path):
    cfg = tiny_train_config(str(tmp_path / 'plain.py'), MAX_ITERS, INTERVAL)
    train_in_process(cfg, tmp_path / 'ref')
    ref = logged_scalars(str(tmp_path / 'ref'))
    assert sorted(ref) == list(range(1, MAX_ITERS + 1))
    assert all(rec['loss_contrast'] > 0 and rec['loss_saliency'] > 0 for rec in ref.values())

    stopped = tiny_train_config(str(tmp_path / 'stopped.py'), MAX_ITERS, INTERVAL,
                                custom_hooks=[dict(type='RandomStateHook'),
                                              dict(type='StopAfterHook', at=INTERVAL + 1)])
    work = tmp_path / 'resumed'
    with pytest.raises(StopTraining):
        train_in_process(stopped, work)
    train_in_process(cfg, work, '--resume')
    resumed = logged_scalars(str(work), newest_only=True)
    assert sorted(resumed) == list(range(INTERVAL + 1, MAX_ITERS + 1))
    for it in resumed:
        for key in ('loss_contrast', 'loss_saliency', 'lr'):
            assert resumed[it][key] == ref[it][key], (it, key)
    a = torch.load(tmp_path / 'ref' / f'iter_{MAX_ITERS}.pth', map_location='cpu',
                   weights_only=True)
    b = torch.load(work / f'iter_{MAX_ITERS}.pth', map_location='cpu', weights_only=True)
    assert int(b['state_dict']['teacher.steps']) == MAX_ITERS
    assert int(b['state_dict']['queue.ptr']) > 0  # the queue moved and was checkpointed
    for key in ('state_dict', 'optimizer', 'param_schedulers'):
        assert_same_state(a[key], b[key], key)
