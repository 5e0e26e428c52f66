# Copyright (c) mmdense contributors. All rights reserved.
"""Shared by the reliability tests: tiny training configs, a runner for
``tools/train.py`` in a subprocess, and test-only hooks (imported by the
training subprocess through ``custom_imports``)."""
import json
import os
import os.path as osp
import random
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from mmdense.registry import HOOKS

from tests.harness.paths import REPO

DEMO = osp.join(REPO, 'configs', 'slotcon', 'slotcon_resnet18-narrow_1xb32-400iters_synthetic.py')
# the new modules, imported explicitly so that the tests do not depend on
# which package __init__ files already import them
IMPORTS = [
    'mmdense.engine.hooks.checkpoint_hook', 'mmdense.engine.hooks.random_state_hook',
    'mmdense.engine.hooks.bad_sample_hook', 'mmdense.datasets.transforms.loading',
    'mmdense.models.algorithms.base', 'tests.harness.reliability'
]


def assert_same_state(a, b, where: str = '') -> None:
    """Assert two checkpoint states (nested dicts / lists of tensors and
    plain values) are equal exactly; ``where`` names the first difference."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_state(a[k], b[k], f'{where}.{k}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f'{where}[{i}]')
    else:
        assert a == b, where


def tiny_config(path: str, num_workers: int = 0, max_iters: int = 8, interval: int = 4,
                custom_hooks: Optional[List[dict]] = None, num_samples: int = 20,
                rng_hook: bool = True, **changes) -> str:
    """The demo config shrunk to seconds (batch 4, 64 px scenes, 48 px crops),
    deterministic, logging every iteration unsmoothed; dumped to ``path``."""
    from mmengine.config import Config
    cfg = Config.fromfile(DEMO)
    cfg.custom_imports = dict(imports=IMPORTS, allow_failed_imports=False)
    loader = cfg.train_dataloader
    loader.batch_size = 4
    loader.num_workers = num_workers
    loader.persistent_workers = num_workers > 0
    loader.dataset.num_samples = num_samples  # 20: 5 iterations per epoch, a wrap in 8
    loader.dataset.img_size = 64
    loader.dataset.pipeline[0].view_groups[0].size = 48
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters + 1
    cfg.default_hooks.checkpoint = dict(type='SafeCheckpointHook', interval=interval,
                                        by_epoch=False, max_keep_ckpts=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(by_epoch=False, window_size=1, custom_cfg=[])
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.custom_hooks = [dict(type='RandomStateHook')] * rng_hook + list(custom_hooks or [])
    cfg.merge_from_dict(changes)
    cfg.dump(path)
    return path


def train_in_process(config: str, work_dir: str, *extra: str) -> str:
    """``tools/train.py`` main() in this process (saves the ~10 s start-up of
    a subprocess), on one thread like :func:`subprocess_env`; returns the
    run's log text. Global torch settings changed by the run are restored."""
    import glob
    import importlib.util
    spec = importlib.util.spec_from_file_location('_mmdense_tools_train',
                                                  osp.join(REPO, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    before = set(glob.glob(osp.join(str(work_dir), '*', '*.log')))
    torch.set_num_threads(1)
    try:
        module.main([config, '--work-dir', str(work_dir), '--no-validate', *extra])
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    logs = sorted(set(glob.glob(osp.join(str(work_dir), '*', '*.log'))) - before)
    return ''.join(open(p).read() for p in logs)


def train_cmd(config: str, work_dir: str, *extra: str) -> List[str]:
    return [sys.executable, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir',
            str(work_dir), '--no-validate', *extra]


def subprocess_env() -> Dict[str, str]:
    """Run the repository's code (not another installed copy), on 1 thread."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return env


def run_train(config: str, work_dir: str, *extra: str, timeout: int = 300) -> str:
    proc = subprocess.run(train_cmd(config, work_dir, *extra), cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=subprocess_env())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def start_train(config: str, work_dir: str, *extra: str) -> subprocess.Popen:
    """Start training in its own process group (so that SIGKILL reaches the
    dataloader workers too)."""
    log = open(osp.join(str(work_dir) + '.stdout'), 'w')
    return subprocess.Popen(train_cmd(config, work_dir, *extra), cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT, env=subprocess_env(),
                            start_new_session=True)


def wait_for(path: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    start = time.time()
    while not osp.exists(path):
        if proc.poll() is not None:
            raise AssertionError(f'training exited ({proc.returncode}) before {path} appeared')
        if time.time() - start > timeout:
            raise AssertionError(f'{path} did not appear in {timeout} s')
        time.sleep(0.05)


def sigkill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def logged_scalars(work_dir: str, newest_only: bool = False) -> Dict[int, dict]:
    """``{iter: logged values}`` from the runs' ``vis_data/scalars.json``."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    if newest_only:
        runs = runs[-1:]
    found: Dict[int, dict] = {}
    for run in runs:
        with open(osp.join(work_dir, run, 'vis_data', 'scalars.json')) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' in rec:
                    found[int(rec['iter'])] = rec
    return found


# ---------------------------------------------------------------- test hooks
@HOOKS.register_module()
class GateHook(Hook):
    """After iteration ``at``, touch ``marker`` and wait to be killed."""

    priority = 'LOWEST'

    def __init__(self, at: int, marker: str) -> None:
        self.at, self.marker = at, marker

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at:
            open(self.marker, 'w').close()
            time.sleep(3600)


@HOOKS.register_module()
class RandomConsumerHook(Hook):
    """Draw from every global generator each iteration, as dropout, random
    masking or a main-process augmentation would, and log the draws."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        hub = runner.message_hub
        hub.update_scalar('train/rng_numpy', float(np.random.random()))
        hub.update_scalar('train/rng_python', random.random())
        hub.update_scalar('train/rng_torch', float(torch.rand(())))


class _SlowFile:
    """A file whose writes go out in 64 KiB pieces, slowly, touching
    ``marker`` after the first piece."""

    def __init__(self, f, marker: str) -> None:
        self._f, self._marker = f, marker

    def write(self, data) -> int:
        view = memoryview(data)
        for start in range(0, len(view), 1 << 16):
            self._f.write(view[start:start + (1 << 16)])
            self._f.flush()
            if start == 0:
                open(self._marker, 'w').close()
            time.sleep(0.05)
        return len(view)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._f, name)


class _SlowOs:
    """Stands in for the ``os`` module of ``mmdense.utils.fileio``."""

    def __init__(self, marker: str) -> None:
        self._marker = marker

    def fdopen(self, fd, *args, **kwargs):
        return _SlowFile(os.fdopen(fd, *args, **kwargs), self._marker)

    def __getattr__(self, name):
        return getattr(os, name)


@HOOKS.register_module()
class SlowSaveHook(Hook):
    """Make the checkpoint write of iteration ``at`` slow (so that a test can
    SIGKILL the process in the middle of it); touch ``marker`` once the first
    bytes are written."""

    def __init__(self, at: int, marker: str) -> None:
        self.at, self.marker = at, marker

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if checkpoint['meta']['iter'] == self.at:
            import mmdense.utils.fileio as fileio
            fileio.os = _SlowOs(self.marker)


# ---------------------------------------------------------------- non-finite losses
def _guarded_slotcon():
    """SlotCon with the non-finite-loss policy (SlotCon itself once it
    inherits NonFiniteLossMixin)."""
    from mmdense.models.algorithms.base import NonFiniteLossMixin
    from mmdense.models.algorithms.slotcon import SlotCon
    from mmdense.registry import MODELS
    cls = SlotCon if issubclass(SlotCon, NonFiniteLossMixin) else type(
        'GuardedSlotCon', (NonFiniteLossMixin, SlotCon), {})
    MODELS.register_module(name='GuardedSlotCon', module=cls, force=True)
    return cls


GuardedSlotCon = _guarded_slotcon()


def poison(model, term: str = 'loss_contrast'):
    """Make ``model.loss`` return NaN for ``term`` (graph kept); returns an
    undo function."""
    original = model.loss

    def loss(*args, **kwargs):
        out = original(*args, **kwargs)
        out[term] = out[term] * float('nan')
        return out
    model.loss = loss
    return lambda: model.__dict__.pop('loss', None)


@HOOKS.register_module()
class NaNInjectHook(Hook):
    """``loss_contrast`` becomes NaN at iteration ``at`` (1-based)."""

    def __init__(self, at: int) -> None:
        self.at = at
        self._undo = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.at:
            model = runner.model.module if hasattr(runner.model, 'module') else runner.model
            self._undo = poison(model)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None
