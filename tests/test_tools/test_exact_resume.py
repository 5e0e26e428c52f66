# Copyright (c) mmdense contributors. All rights reserved.
"""A run SIGKILLed after a checkpoint and resumed with ``--resume`` logs the
same losses, learning rates and random draws after the checkpoint, and ends
with the same weights, optimizer and buffers, as an uninterrupted run.

Covered: model weights and buffers (BatchNorm statistics, SlotCon's centre,
the EMA teacher and its momentum step ``teacher.steps``), LARS momentum, the
LR schedule (warm-up + cosine), the message hub, the data order (sampler
epoch, incl. an epoch wrap after iteration 5), the random augmentations
(numpy in the main process with ``num_workers=0``, in a persistent worker
with ``num_workers=1``) and the global generators, which
``RandomStateHook`` restores after mmengine's dataloader fast-forward
(``RandomConsumerHook`` draws from them every iteration, as dropout would).
"""
import os.path as osp

import pytest
import torch

from tests.harness.reliability import (logged_scalars, sigkill, start_train, tiny_config, train_in_process,
                      wait_for)

MAX_ITERS, INTERVAL, KILL_AFTER = 8, 4, 6
PROBES = ['rng_numpy', 'rng_python', 'rng_torch']


def _assert_same_state(a: dict, b: dict, where: str = '') -> None:
    assert type(a) is type(b), where
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same_state(a[k], b[k], f'{where}.{k}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_state(x, y, f'{where}[{i}]')
    else:
        assert a == b, where


@pytest.mark.slow
@pytest.mark.parametrize('num_workers', [0, 1])
def test_sigkill_then_resume_is_exact(tmp_path, num_workers):
    hooks = [dict(type='RandomConsumerHook')]
    # with a worker: 5 iterations per epoch, so the dataloader wraps (and the
    # persistent worker goes on) after iteration 5; without: no wrap (each
    # wrap sleeps 2 s in mmengine)
    samples = 20 if num_workers else 32
    plain = tiny_config(str(tmp_path / 'plain.py'), num_workers, MAX_ITERS, INTERVAL, hooks,
                        num_samples=samples)
    train_in_process(plain, tmp_path / 'ref')
    ref = logged_scalars(str(tmp_path / 'ref'))
    assert sorted(ref) == list(range(1, MAX_ITERS + 1))

    # same config plus a gate after iteration 6; SIGKILL once it is reached
    marker = str(tmp_path / 'reached')
    gated = tiny_config(str(tmp_path / 'gated.py'), num_workers, MAX_ITERS, INTERVAL,
                        hooks + [dict(type='GateHook', at=KILL_AFTER, marker=marker)],
                        num_samples=samples)
    work = tmp_path / 'killed'
    proc = start_train(gated, work)
    wait_for(marker, proc)
    sigkill(proc)
    assert open(work / 'last_checkpoint').read().strip().endswith(f'iter_{INTERVAL}.pth')
    assert not (work / f'iter_{MAX_ITERS}.pth').exists()

    if num_workers == 0:
        # control: without RandomStateHook the same resume drifts (the probes,
        # and the main-process augmentations, see freshly seeded generators)
        bare = tiny_config(str(tmp_path / 'bare.py'), num_workers, MAX_ITERS, INTERVAL, hooks,
                           num_samples=samples, rng_hook=False)
        assert 'RandomStateHook' not in open(bare).read()
        train_in_process(bare, tmp_path / 'bare', '--resume', str(work / f'iter_{INTERVAL}.pth'))
        drifted = logged_scalars(str(tmp_path / 'bare'))
        # (numpy's stream can re-synchronise by chance: the pipeline's draws
        # have value-dependent lengths, a Kruskal count; python's and torch's
        # streams cannot here)
        for key in ('rng_python', 'rng_torch', 'loss'):
            assert any(drifted[it][key] != ref[it][key]
                       for it in range(INTERVAL + 1, MAX_ITERS + 1)), key

    out = train_in_process(plain, work, '--resume')
    assert f'resumed epoch: 0, iter: {INTERVAL}' in out
    resumed = logged_scalars(str(work), newest_only=True)
    assert sorted(resumed) == list(range(INTERVAL + 1, MAX_ITERS + 1))
    for it in resumed:
        for key in ['loss', 'loss_group', 'loss_contrast', 'lr'] + PROBES:
            assert resumed[it][key] == ref[it][key], (it, key, resumed[it][key], ref[it][key])
    # and the iterations before the kill were already what they should be
    first = logged_scalars(str(work))
    for it in range(1, KILL_AFTER + 1):
        assert first[it]['loss'] == ref[it]['loss'] or it > INTERVAL

    a = torch.load(tmp_path / 'ref' / f'iter_{MAX_ITERS}.pth', map_location='cpu',
                   weights_only=True)
    b = torch.load(work / f'iter_{MAX_ITERS}.pth', map_location='cpu', weights_only=True)
    assert int(b['state_dict']['teacher.steps']) == MAX_ITERS
    _assert_same_state(a['state_dict'], b['state_dict'], 'state_dict')
    _assert_same_state(a['optimizer'], b['optimizer'], 'optimizer')
    _assert_same_state(a['param_schedulers'], b['param_schedulers'], 'param_schedulers')
    _assert_same_state(a['rng_states'], b['rng_states'], 'rng_states')
    assert osp.isfile(work / 'bad_samples.json') is False  # nothing was skipped
