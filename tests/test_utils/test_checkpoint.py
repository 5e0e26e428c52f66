# Copyright (c) mmdense contributors. All rights reserved.
"""Checkpoints: written atomically, loaded with ``weights_only=True`` only,
and refused with a message naming the file when unsafe or damaged."""
import os
import os.path as osp
import pickle
import subprocess
import sys
import textwrap
import time
import types
import zipfile

import pytest
import torch
import torch.nn as nn

from mmdense.utils.checkpoint import (CorruptCheckpointError, UnsafeCheckpointError,
                                      install_checkpoint_safety, is_complete_checkpoint,
                                      safe_torch_load)

from tests.harness.reliability import REPO, subprocess_env

FILEIO = osp.join(REPO, 'mmdense', 'utils', 'fileio.py')


@pytest.fixture(scope='module', autouse=True)
def _installed():
    install_checkpoint_safety()


class Evil:
    """Loading this object runs code: it touches ``self.marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import pathlib
        return pathlib.Path.touch, (pathlib.Path(self.marker), )


def _evil_checkpoint(tmp_path):
    marker = tmp_path / 'code_was_executed'
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=dict(iter=1), state_dict=dict(w=torch.zeros(2)), evil=Evil(str(marker))),
               path)
    # it really is a payload: an unsafe load runs it
    torch.load(path, weights_only=False)
    assert marker.exists()
    marker.unlink()
    return str(path), marker


def test_unsafe_checkpoint_refused_by_mmengine_loaders(tmp_path, monkeypatch):
    from mmengine.runner import load_checkpoint
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
    path, marker = _evil_checkpoint(tmp_path)
    # even when the environment asks torch to load without weights_only
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    for load in (lambda: load_checkpoint(nn.Linear(2, 2), path, map_location='cpu'),
                 lambda: _load_checkpoint(path, map_location='cpu'),
                 lambda: CheckpointLoader.load_checkpoint(path, map_location='cpu'),
                 lambda: safe_torch_load(path)):
        with pytest.raises(UnsafeCheckpointError) as err:
            load()
        message = str(err.value)
        assert f'Refused to load checkpoint {path!r}' in message, message
        assert 'Unsupported global' in message and 'nothing in the file was executed' in message
        # the whole dotted name of what it wanted (pathlib.Path.touch pickles
        # as getattr(pathlib.Path, 'touch') at protocol 2)
        assert 'offending global: builtins.getattr' in message, message
        assert err.value.offending_global == 'builtins.getattr'
        assert isinstance(err.value, pickle.UnpicklingError)
        assert not marker.exists()


def test_install_is_idempotent():
    """Repeated calls (tools, SafeCheckpointHook, mmdense.safety) change nothing more."""
    from mmengine.fileio.backends import prefix_to_backends
    from mmengine.runner.checkpoint import CheckpointLoader
    install_checkpoint_safety()
    state = (dict(CheckpointLoader._schemes), list(torch.serialization.get_safe_globals()),
             prefix_to_backends[''])
    install_checkpoint_safety()
    import mmdense.safety  # noqa: F401
    assert (dict(CheckpointLoader._schemes), list(torch.serialization.get_safe_globals()),
            prefix_to_backends['']) == state


def test_unsafe_checkpoint_refused_on_resume_and_test(tmp_path):
    """``tools/train.py --resume`` (in this process) refuses it too."""
    from tests.harness.reliability import tiny_config, train_in_process
    path, marker = _evil_checkpoint(tmp_path)
    cfg = tiny_config(str(tmp_path / 'cfg.py'))
    with pytest.raises(UnsafeCheckpointError, match=path.replace('.', r'\.')):
        train_in_process(cfg, tmp_path / 'work', '--resume', path)
    assert not marker.exists()


@pytest.mark.slow
def test_tools_test_refuses_unsafe_checkpoint(tmp_path):
    """A fresh ``tools/test.py`` process refuses it with the file's name."""
    from tests.harness.reliability import tiny_config
    path, marker = _evil_checkpoint(tmp_path)
    cfg = tiny_config(str(tmp_path / 'cfg.py'))
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'test.py'), cfg, path,
                           '--work-dir', str(tmp_path / 'work')], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=subprocess_env())
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError' in out and f'Refused to load checkpoint {path!r}' in out, \
        out[-3000:]
    assert not marker.exists()


def test_truncated_checkpoint_named(tmp_path):
    path = tmp_path / 'iter_8.pth'
    torch.save(dict(state_dict=dict(w=torch.randn(1000))), path)
    assert is_complete_checkpoint(str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    assert not is_complete_checkpoint(str(path))
    from mmengine.runner.checkpoint import _load_checkpoint
    with pytest.raises(CorruptCheckpointError, match='iter_8.pth.*truncated'):
        _load_checkpoint(str(path), map_location='cpu')
    path.write_bytes(b'')
    with pytest.raises(CorruptCheckpointError):
        _load_checkpoint(str(path), map_location='cpu')


def test_safe_payloads_load_weights_only(tmp_path):
    """What mmdense adds to checkpoints stays weights_only-loadable."""
    from mmdense.engine.hooks.random_state_hook import capture_rng_states
    path = tmp_path / 'a.pth'
    torch.save(dict(rng_states=capture_rng_states(), message=dict(x=[1, 2.0, 'a', None])), path)
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded['rng_states']['torch'], torch.get_rng_state())


def test_cpu_amp_wrapper_state_roundtrip(tmp_path):
    """The AMP wrapper's state (optimizer + loss scaler) survives a
    weights_only checkpoint."""
    from mmdense.engine.optimizers import CPUAmpOptimWrapper
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1,
                                                           momentum=0.9))
    with wrapper.optim_context(model):
        loss = model(torch.randn(8, 4)).float().pow(2).mean()
    wrapper.update_params(loss)
    state = wrapper.state_dict()
    assert 'loss_scaler' in state
    torch.save(dict(optimizer=state), tmp_path / 'o.pth')
    loaded = torch.load(tmp_path / 'o.pth', weights_only=True)['optimizer']
    other = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1,
                                                         momentum=0.9))
    other.load_state_dict(loaded)
    buf = wrapper.optimizer.state_dict()['state'][0]['momentum_buffer']
    assert torch.equal(other.optimizer.state_dict()['state'][0]['momentum_buffer'], buf)
    assert other.loss_scaler.state_dict() == wrapper.loss_scaler.state_dict()


# ---------------------------------------------------------------- atomic writes
_WRITER = textwrap.dedent('''
    import importlib.util, os, sys, time
    import mmengine.fileio.backends.local_backend as local_backend
    from mmengine.fileio import get_file_backend
    path, marker, mode = sys.argv[1:4]

    class SlowFile:  # writes 64 KiB at a time, slowly; touches marker after the first
        def __init__(self, f): self.f = f
        def write(self, data):
            view = memoryview(data)
            for i in range(0, len(view), 1 << 16):
                self.f.write(view[i:i + (1 << 16)]); self.f.flush()
                if i == 0: open(marker, 'w').close()
                time.sleep(0.02)
            return len(view)
        def __enter__(self): return self
        def __exit__(self, *a): return self.f.__exit__(*a)
        def __getattr__(self, n): return getattr(self.f, n)

    if mode == 'atomic':
        spec = importlib.util.spec_from_file_location('fileio', sys.argv[4])
        fileio = importlib.util.module_from_spec(spec); spec.loader.exec_module(fileio)
        fileio.register_atomic_local_backend()
        real_fdopen = os.fdopen
        class SlowOs:
            def __getattr__(self, n): return getattr(os, n)
            def fdopen(self, *a, **k): return SlowFile(real_fdopen(*a, **k))
        fileio.os = SlowOs()
    else:  # mmengine's LocalBackend as it is
        local_backend.open = lambda *a, **k: SlowFile(open(*a, **k))
    get_file_backend(path).put(b'N' * (8 << 20), path)
    print('finished')
''')


def _kill_writer_midway(tmp_path, mode):
    path = tmp_path / 'iter_4.pth'
    old = b'OLD' * 1000
    path.write_bytes(old)
    marker = tmp_path / 'writing'
    proc = subprocess.Popen([sys.executable, '-c', _WRITER, str(path), str(marker), mode, FILEIO],
                            env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    start = time.time()
    while not marker.exists():
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        assert time.time() - start < 120
        time.sleep(0.01)
    proc.kill()
    proc.wait(timeout=30)
    return path, old


@pytest.mark.slow
def test_sigkill_during_atomic_put_keeps_old_file(tmp_path):
    path, old = _kill_writer_midway(tmp_path, 'atomic')
    assert path.read_bytes() == old  # the previous checkpoint is intact
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith('.tmp-iter_4.pth-')]
    assert len(leftovers) == 1  # the partial data went to a hidden temp file
    assert 0 < osp.getsize(tmp_path / leftovers[0]) < 8 << 20
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith('.pth')) == ['iter_4.pth']


@pytest.mark.slow
def test_sigkill_during_stock_put_truncates(tmp_path):
    """Why: mmengine's own LocalBackend leaves a partial file in place."""
    path, old = _kill_writer_midway(tmp_path, 'stock')
    data = path.read_bytes()
    assert data != old and 0 < len(data) < 8 << 20


def test_atomic_write_replaces_and_cleans_up(tmp_path):
    from mmdense.utils.fileio import AtomicLocalBackend, atomic_write_bytes
    from mmengine.fileio import get_file_backend
    path = tmp_path / 'sub' / 'x.bin'
    atomic_write_bytes(b'one', path)
    assert path.read_bytes() == b'one'
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    atomic_write_bytes(b'two', path)
    assert path.read_bytes() == b'two'
    with pytest.raises(TypeError):
        atomic_write_bytes(object(), path)  # the write fails: the old file stays
    assert path.read_bytes() == b'two'
    assert os.listdir(path.parent) == ['x.bin']
    assert isinstance(get_file_backend(str(path)), AtomicLocalBackend)


# ---------------------------------------------------------------- SafeCheckpointHook
def _fake_runner(work_dir, resume=True, load_from=None, model=None):
    logs = []
    logger = types.SimpleNamespace(warning=logs.append, info=logs.append)
    return types.SimpleNamespace(work_dir=str(work_dir), _resume=resume, _load_from=load_from,
                                 logger=logger, logs=logs, model=model), logs


def _ckpt(path, complete=True):
    torch.save(dict(state_dict=dict(w=torch.randn(256))), path)
    if not complete:
        data = open(path, 'rb').read()
        open(path, 'wb').write(data[:len(data) // 2])


@pytest.mark.parametrize('case', ['ok', 'truncated', 'empty', 'missing_file', 'newer', 'none'])
def test_auto_resume_picks_a_complete_checkpoint(tmp_path, case):
    from mmdense.engine.hooks.checkpoint_hook import SafeCheckpointHook
    hook = SafeCheckpointHook(interval=4, by_epoch=False)
    _ckpt(tmp_path / 'iter_4.pth')
    pointer = tmp_path / 'last_checkpoint'
    if case in ('ok', 'newer'):
        pointer.write_text(str(tmp_path / 'iter_4.pth'))
    if case == 'newer':  # killed between the save and the pointer update
        _ckpt(tmp_path / 'iter_8.pth')
    if case == 'truncated':
        _ckpt(tmp_path / 'iter_8.pth', complete=False)
        pointer.write_text(str(tmp_path / 'iter_8.pth'))
    if case == 'empty':
        pointer.write_text('')
    if case == 'missing_file':
        pointer.write_text(str(tmp_path / 'iter_12.pth'))
    if case == 'none':
        os.remove(tmp_path / 'iter_4.pth')
    runner, logs = _fake_runner(tmp_path)
    hook.before_run(runner)
    expected = {'ok': None, 'truncated': 'iter_4.pth', 'empty': 'iter_4.pth',
                'missing_file': 'iter_4.pth', 'newer': 'iter_8.pth', 'none': None}[case]
    if expected is None:
        assert runner._load_from is None
    else:
        assert runner._load_from == str(tmp_path / expected)
        assert logs and expected in logs[0]


def test_no_checkpoint_of_a_nonfinite_model(tmp_path):
    from mmdense.engine.hooks.checkpoint_hook import SafeCheckpointHook
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    model[1].running_mean.fill_(float('nan'))
    runner, _ = _fake_runner(tmp_path, model=model)
    hook = SafeCheckpointHook(interval=4, by_epoch=False)
    with pytest.raises(RuntimeError, match=r'iter_8\.pth.*1\.running_mean'):
        hook._save_checkpoint_with_step(runner, 8, dict(iter=8))
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_sigkill_during_checkpoint_save_then_resume(tmp_path):
    """Killed while writing iter_8.pth with ``max_keep_ckpts=1`` (mmengine
    would already have deleted iter_4.pth): iter_4.pth and last_checkpoint
    stay usable and ``--resume`` finishes the run."""
    from tests.harness.reliability import sigkill, start_train, tiny_config, train_in_process, wait_for
    marker = str(tmp_path / 'writing')
    slow = tiny_config(str(tmp_path / 'slow.py'), custom_hooks=[
        dict(type='SlowSaveHook', at=8, marker=marker)], num_samples=32,
        default_hooks=dict(checkpoint=dict(max_keep_ckpts=1)))
    work = tmp_path / 'work'
    proc = start_train(slow, work)
    wait_for(marker, proc)
    sigkill(proc)
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == ['iter_4.pth']
    assert open(work / 'last_checkpoint').read().strip() == str(work / 'iter_4.pth')
    state = torch.load(work / 'iter_4.pth', map_location='cpu', weights_only=True)
    assert state['meta']['iter'] == 4 and zipfile.is_zipfile(work / 'iter_4.pth')

    plain = tiny_config(str(tmp_path / 'plain.py'), num_samples=32,
                        default_hooks=dict(checkpoint=dict(max_keep_ckpts=1)))
    log = train_in_process(plain, work, '--resume')
    assert 'resumed epoch: 0, iter: 4' in log
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == ['iter_8.pth']
    assert torch.load(work / 'iter_8.pth', weights_only=True)['meta']['iter'] == 8
