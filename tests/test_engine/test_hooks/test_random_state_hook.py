# Copyright (c) mmdense contributors. All rights reserved.
"""RandomStateHook: states round-trip through a weights_only checkpoint and
are restored after IterBasedTrainLoop's dataloader fast-forward."""
import random
import types

import numpy as np
import torch

from mmdense.engine.hooks.random_state_hook import (RNG_KEY, RandomStateHook,
                                                    capture_rng_states, restore_rng_states)


def _draw():
    return (random.random(), float(np.random.random()), float(np.random.normal()),
            float(torch.rand(())))


def test_capture_restore_roundtrip_through_weights_only(tmp_path):
    np.random.normal()  # leave a cached gaussian in numpy's state
    random.gauss(0, 1)
    states = capture_rng_states()
    torch.save({RNG_KEY: states}, tmp_path / 'c.pth')
    expected = [_draw() for _ in range(3)]
    loaded = torch.load(tmp_path / 'c.pth', weights_only=True)[RNG_KEY]
    restore_rng_states(loaded)
    assert [_draw() for _ in range(3)] == expected


def _runner(resume=True, it=4, iter_based=True):
    logs = []
    logger = types.SimpleNamespace(info=logs.append, warning=logs.append)
    loop = types.SimpleNamespace(iter=it)
    if iter_based:
        loop.dataloader_iterator = iter(range(100))
    return types.SimpleNamespace(_resume=resume, train_loop=loop, logger=logger, rank=0), logs


def test_restored_after_the_fast_forward_before_the_first_new_batch():
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    expected = _draw()
    runner, logs = _runner(it=4)
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train_epoch(runner)
    loop = runner.train_loop
    for i in range(4):  # the replay, which draws (num_workers=0 augmentations)
        assert next(loop.dataloader_iterator) == i
        _draw()
    assert next(loop.dataloader_iterator) == 4  # first new batch: restored before it
    assert _draw() == expected
    assert isinstance(loop.dataloader_iterator, type(iter(range(1))))  # unwrapped
    assert any('restored' in m for m in logs)


def test_epoch_based_restores_before_the_epoch():
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    expected = _draw()
    runner, _ = _runner(iter_based=False)
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train_epoch(runner)
    assert _draw() == expected


def test_not_restored_for_load_from_or_old_checkpoints():
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    runner, _ = _runner(resume=False)
    hook.after_load_checkpoint(runner, checkpoint)
    assert hook._pending is None
    runner, logs = _runner()
    hook.after_load_checkpoint(runner, {})
    assert hook._pending is None and 'no random generator states' in logs[0]
