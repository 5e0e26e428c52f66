# Copyright (c) mmdense contributors. All rights reserved.
"""Checkpoint security ("Reliability, round two", items 1, 2, 3, 11).

1. every scheme of mmengine's ``CheckpointLoader`` (local, ``http(s)://``,
   ``s3://``/``petrel://``, ``pavi://``, ``torchvision://``, ``open-mmlab://``,
   ``mmcls://`` ...) loads with ``torch.load(weights_only=True)`` and refuses
   pickled code (a local HTTP server on 127.0.0.1 serves the files);
2. the protection is one explicit call, made by every entry point, whatever
   the import route, and ``import mmdense`` patches nothing;
3. refusals name the offending global in every torch wording; text or garbage
   is "not a torch checkpoint";
11. sha256 sidecars detect a changed checkpoint.
"""
import collections
import functools
import hashlib
import http.server
import io
import os
import os.path as osp
import subprocess
import sys
import textwrap
import threading
import types

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

import mmdense.utils.checkpoint as ckpt_mod
from mmdense.utils.checkpoint import (DIGEST_SUFFIX, SAFE_SCHEME_LOADERS, CorruptCheckpointError,
                                      UnsafeCheckpointError, install_checkpoint_safety,
                                      offending_global_in_message, safe_torch_load,
                                      write_checkpoint_digest)

from tests.harness.reliability import REPO, subprocess_env, tiny_config

BENCHMARKS = osp.join(REPO, 'configs', 'benchmarks')
SAFE_IMPORTS = dict(imports=['mmdense', 'mmdense.safety'], allow_failed_imports=False)


@pytest.fixture(scope='module', autouse=True)
def _installed():
    install_checkpoint_safety()


class Payload:
    """Unpickling this object runs code: it creates the file ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()', )


def make_evil(folder, name='evil.pth'):
    """A checkpoint whose unpickling (weights_only=False) creates a marker."""
    folder = str(folder)
    marker = osp.join(folder, name + '.code_was_executed')
    path = osp.join(folder, name)
    torch.save(dict(meta=dict(iter=1), state_dict=dict(weight=torch.zeros(2, 2)),
                    evil=Payload(marker)), path)
    torch.load(path, weights_only=False)  # it really is a payload
    assert osp.exists(marker)
    os.remove(marker)
    return path, marker


def make_good(folder, name='good.pth'):
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    path = osp.join(str(folder), name)
    torch.save(dict(meta=dict(iter=1), state_dict=model.state_dict()), path)
    return path, model


def subprocess_env_unsafe():
    """The environment of the subprocess tests: torch asked to load
    everything with weights_only=False (what an unprotected load does)."""
    return dict(subprocess_env(), TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')


# ---------------------------------------------------------------- item 1: remote schemes
class _QuietHandler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path, monkeypatch):
    """``(folder, base_url)``: an HTTP server on 127.0.0.1 serving ``folder``;
    torch's hub cache in ``tmp_path``; no proxy; and weights_only=False
    forced for every load that does not set it."""
    folder = tmp_path / 'www'
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for var in ('http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY',
                'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('no_proxy', '127.0.0.1,localhost')
    monkeypatch.setenv('NO_PROXY', '127.0.0.1,localhost')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    try:
        yield folder, f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_http_checkpoint_loads_weights_only(served):
    folder, base = served
    _, model = make_good(folder, 'good.pth')
    other = nn.Linear(2, 2)
    load_checkpoint(other, f'{base}/good.pth', map_location='cpu')
    assert torch.equal(other.weight, model.weight) and torch.equal(other.bias, model.bias)
    assert CheckpointLoader._get_checkpoint_loader(f'{base}/good.pth') is ckpt_mod.load_from_http
    # downloaded into torch's hub cache, as mmengine / torch.hub do
    cached = osp.join(torch.hub.get_dir(), 'checkpoints', 'good.pth')
    assert osp.isfile(cached)


def test_http_checkpoint_with_pickled_code_refused(served):
    folder, base = served
    _, marker = make_evil(folder, 'evil.pth')
    url = f'{base}/evil.pth'
    for _ in range(2):  # downloaded, then from the cache
        with pytest.raises(UnsafeCheckpointError) as err:
            load_checkpoint(nn.Linear(2, 2), url, map_location='cpu')
        message = str(err.value)
        assert f'Refused to load checkpoint {url!r}' in message, message
        assert 'offending global: builtins.exec' in message, message
        assert err.value.offending_global == 'builtins.exec'
        assert not osp.exists(marker)


def test_named_schemes_end_in_the_safe_http_loader(served, monkeypatch):
    """torchvision:// modelzoo:// open-mmlab:// openmmlab:// mmcls:// resolve
    to URLs (mmengine's model lists, here pointed at the local server)."""
    import mmengine.runner.checkpoint as mm
    folder, base = served
    make_evil(folder, 'evil.pth')
    make_good(folder, 'good.pth')
    torch.save(dict(state_dict={'backbone.w': torch.ones(2), 'head.w': torch.zeros(1)}),
               folder / 'cls.pth')
    urls = dict(evil=f'{base}/evil.pth', good=f'{base}/good.pth', cls=f'{base}/cls.pth')
    monkeypatch.setattr(mm, 'get_torchvision_models', lambda: urls)
    monkeypatch.setattr(mm, 'get_external_models', lambda: urls)
    monkeypatch.setattr(mm, 'get_mmcls_models', lambda: urls)
    monkeypatch.setattr(mm, 'get_deprecated_model_names', lambda: {})
    for scheme in ('torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://', 'mmcls://'):
        with pytest.raises(UnsafeCheckpointError, match='offending global: builtins.exec') as err:
            _load_checkpoint(scheme + 'evil', map_location='cpu')
        assert urls['evil'] in str(err.value)
    assert set(_load_checkpoint('torchvision://good', map_location='cpu')['state_dict']) == {
        'weight', 'bias'}
    assert list(_load_checkpoint('mmcls://cls', map_location='cpu')['state_dict']) == ['w']


def test_open_mmlab_local_entry_is_safe(tmp_path, monkeypatch):
    """An open-mmlab:// name that maps to a file under MMENGINE_HOME."""
    import mmengine.runner.checkpoint as mm
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path))
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    _, marker = make_evil(tmp_path, 'evil.pth')
    monkeypatch.setattr(mm, 'get_external_models', lambda: dict(evil='evil.pth'))
    monkeypatch.setattr(mm, 'get_deprecated_model_names', lambda: {})
    with pytest.raises(UnsafeCheckpointError, match='builtins.exec'):
        _load_checkpoint('open-mmlab://evil', map_location='cpu')
    assert not osp.exists(marker)


def test_file_backend_schemes_load_weights_only(tmp_path, monkeypatch):
    """s3:// and petrel:// (with a cluster prefix too): the backend's get()
    bytes, loaded weights-only."""
    import mmengine.fileio
    evil, marker = make_evil(tmp_path)
    good, model = make_good(tmp_path)
    blobs = {'evil.pth': open(evil, 'rb').read(), 'good.pth': open(good, 'rb').read()}
    asked = []

    class FakeBackend:
        def get(self, filepath):
            asked.append(filepath)
            return blobs[filepath.rsplit('/', 1)[-1]]

    monkeypatch.setattr(mmengine.fileio, 'get_file_backend', lambda *a, **k: FakeBackend())
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    for url in ('s3://bucket/evil.pth', 'petrel://bucket/evil.pth', 'cluster:s3://b/evil.pth'):
        assert CheckpointLoader._get_checkpoint_loader(url) is ckpt_mod.load_from_ceph
        with pytest.raises(UnsafeCheckpointError) as err:
            _load_checkpoint(url, map_location='cpu')
        assert url in str(err.value) and 'offending global: builtins.exec' in str(err.value)
    loaded = _load_checkpoint('s3://bucket/good.pth', map_location='cpu')
    assert torch.equal(loaded['state_dict']['weight'], model.weight)
    assert asked[-1] == 's3://bucket/good.pth'
    assert not osp.exists(marker)


def test_pavi_scheme_loads_weights_only(tmp_path, monkeypatch):
    import shutil
    evil, marker = make_evil(tmp_path)

    class Model:
        name = 'evil.pth'

        def download(self, dst):
            shutil.copy(evil, dst)

    pavi = types.ModuleType('pavi')
    pavi.modelcloud = types.SimpleNamespace(get=lambda path: Model())
    monkeypatch.setitem(sys.modules, 'pavi', pavi)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError, match="'pavi://proj/evil.pth'"):
        _load_checkpoint('pavi://proj/evil.pth', map_location='cpu')
    assert not osp.exists(marker)


def test_every_scheme_has_an_mmdense_safe_loader():
    """After the call every prefix is served by mmdense; and every prefix
    mmengine (with mmpretrain, mmdet, mmseg imported) registers is in
    SAFE_SCHEME_LOADERS, so a scheme a later version adds fails here."""
    install_checkpoint_safety()
    for prefix, loader in CheckpointLoader._schemes.items():
        assert loader.__module__ == 'mmdense.utils.checkpoint', (prefix, loader)
        assert getattr(loader, '_mmdense_safe', False), prefix
        assert loader.__name__ != 'load_from_unverified_scheme', prefix
    code = textwrap.dedent('''
        import importlib
        from mmengine.runner.checkpoint import CheckpointLoader
        for name in ('mmpretrain', 'mmdet', 'mmseg'):
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        print(repr(sorted(CheckpointLoader._schemes)))
    ''')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300, env=subprocess_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stock = eval(proc.stdout.strip().splitlines()[-1])
    assert '' in stock and 'http://' in stock
    assert sorted(set(stock) - set(SAFE_SCHEME_LOADERS)) == []


def test_unknown_scheme_is_refused_not_loaded(tmp_path, monkeypatch):
    evil, marker = make_evil(tmp_path)

    def load_from_mystore(filename, map_location=None):  # what a plugin might do
        return torch.load(evil, weights_only=False)

    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    CheckpointLoader.register_scheme(prefixes='mystore://', loader=load_from_mystore)
    install_checkpoint_safety()
    with pytest.raises(UnsafeCheckpointError, match="scheme 'mystore://'.*load_from_mystore"):
        _load_checkpoint('mystore://x.pth')
    assert not osp.exists(marker)
    # a loader registered as safe is kept
    ckpt_mod.register_safe_scheme('mystore://', lambda f, map_location=None: {'ok': 1})
    install_checkpoint_safety()
    assert _load_checkpoint('mystore://x.pth') == {'ok': 1}


# ---------------------------------------------------------------- item 2: import routes
def _run(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=subprocess_env_unsafe(), cwd=REPO)


@pytest.mark.slow
def test_tools_train_refuses_pretrained_backbone_with_code(tmp_path):
    """(i) tools/train.py, a tiny config whose backbone init_cfg points at a
    pickled-code checkpoint, mmengine's own CheckpointHook (the protection
    comes from train.py's call) and no mmdense.safety import."""
    evil, marker = make_evil(tmp_path)
    cfg = tiny_config(str(tmp_path / 'cfg.py'), max_iters=2, interval=2,
                      **{'model.backbone.init_cfg': dict(type='Pretrained', checkpoint=evil),
                         'default_hooks.checkpoint': dict(type='CheckpointHook', interval=2,
                                                          by_epoch=False,
                                                          _delete_=True)})
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg,
                           '--work-dir', str(tmp_path / 'work'), '--no-validate'],
                          capture_output=True, text=True, timeout=600, env=subprocess_env_unsafe(),
                          cwd=REPO)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert 'UnsafeCheckpointError' in out and evil in out, out[-3000:]
    assert 'offending global: builtins.exec' in out, out[-3000:]
    assert not osp.exists(marker)


def test_benchmark_configs_opt_in_through_custom_imports():
    """Every benchmark config (own line or inherited) imports mmdense.safety."""
    from mmengine.config import Config
    configs = sorted(osp.join(root, f) for root, _, files in os.walk(BENCHMARKS)
                     for f in files if f.endswith('.py') and '_base_' not in root)
    assert len(configs) >= 10
    for path in configs:
        cfg = Config.fromfile(path, import_custom_modules=False)
        imports = cfg.get('custom_imports')
        assert imports['imports'][:2] == SAFE_IMPORTS['imports'], path  # safety first
        assert imports['allow_failed_imports'] is False, path


@pytest.mark.slow
def test_mmdet_mmseg_tools_route_refuses(tmp_path):
    """(ii) what mmdet's / mmseg's tools do: read the config, import its
    custom_imports, load a checkpoint through mmengine."""
    evil, marker = make_evil(tmp_path)
    config = osp.join(BENCHMARKS, 'fcn', 'fcn_r50-d8_4xb4-80k_ade20k-512x512.py')
    proc = _run(f'''
        from mmengine.config import Config
        from mmengine.utils import import_modules_from_strings
        cfg = Config.fromfile({config!r}, import_custom_modules=False)
        import_modules_from_strings(**cfg['custom_imports'])
        import torch.nn as nn
        from mmengine.runner import load_checkpoint
        try:
            load_checkpoint(nn.Linear(2, 2), {evil!r}, map_location='cpu')
        except Exception as err:
            print('REFUSED', type(err).__name__, err)
        else:
            print('LOADED')
    ''')
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'REFUSED UnsafeCheckpointError' in out and 'builtins.exec' in out, out[-3000:]
    assert not osp.exists(marker)


@pytest.mark.slow
def test_python_api_explicit_call_refuses(tmp_path):
    """(iii) import mmdense; mmdense.utils.install_checkpoint_safety()."""
    evil, marker = make_evil(tmp_path)
    proc = _run(f'''
        import mmdense
        mmdense.utils.install_checkpoint_safety()
        mmdense.utils.install_checkpoint_safety()  # idempotent
        import torch.nn as nn
        from mmengine.runner import load_checkpoint
        try:
            load_checkpoint(nn.Linear(2, 2), {evil!r}, map_location='cpu')
        except mmdense.utils.UnsafeCheckpointError as err:
            print('REFUSED', err)
        else:
            print('LOADED')
    ''')
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'REFUSED' in out and evil in out, out[-3000:]
    assert not osp.exists(marker)


@pytest.mark.slow
def test_import_mmdense_patches_nothing():
    """(iv) importing mmdense (and mmdense.engine) changes no global state."""
    proc = _run('''
        import torch
        from mmengine.fileio.backends import prefix_to_backends
        from mmengine.logging import HistoryBuffer
        from mmengine.runner.checkpoint import CheckpointLoader

        def state():
            # (torch registers globals of its own when torch._dynamo is imported)
            safe = [g for g in torch.serialization.get_safe_globals()
                    if not getattr(g, '__module__', '').startswith('torch.')]
            return (safe, dict(CheckpointLoader._schemes),
                    HistoryBuffer.__dict__.get('__getstate__'), dict(prefix_to_backends))

        before = state()
        import mmdense
        assert state() == before, 'import mmdense changed global state'
        import mmdense.engine
        import mmdense.engine.hooks.checkpoint_hook
        assert state() == before, 'import mmdense.engine changed global state'
        assert callable(mmdense.utils.install_checkpoint_safety)
        import mmdense.safety  # the explicit opt-in
        after = state()
        assert after[0] != before[0] and after[1] != before[1] and after[3] != before[3]
        print('UNCHANGED')
    ''')
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and 'UNCHANGED' in out, out[-3000:]


# ---------------------------------------------------------------- item 3: messages
WORDINGS = {
    # torch >= 2.6
    'Weights only load failed. This file can still be loaded, to do so you have two options, '
    '\x1b[1mdo those steps only if you trust the source of the checkpoint\x1b[0m. \n\t(1) ...'
    '\n\tWeightsUnpickler error: Unsupported global: GLOBAL os.system was not an allowed global '
    'by default. Please use `torch.serialization.add_safe_globals([os.system])` or ...':
    'os.system',
    # torch strips "builtins."
    'Weights only load failed. ...\n\tWeightsUnpickler error: Unsupported global: GLOBAL exec '
    'was not an allowed global by default.': 'builtins.exec',
    # torch 2.14, blocked modules
    'Weights only load failed. ...\n\nTrying to load unsupported GLOBAL posix.system whose '
    'module posix is blocked.': 'posix.system',
    'unsupported GLOBAL pathlib.Path.touch': 'pathlib.Path.touch',
    # torch 1.13 - 2.3, one line
    'Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will '
    'likely succeed, but it can result in arbitrary code execution.Do it only if you get the '
    'file from a trusted source. WeightsUnpickler error: Unsupported class os.system':
    'os.system',
    'Weights only load failed. ... WeightsUnpickler error: Trying to call reduce for '
    "unrecognized function <built-in function system> which belongs to <module 'posix' "
    "(built-in)>": 'posix.system',
    'Weights only load failed. ... WeightsUnpickler error: Can only build Tensor, Parameter, '
    "OrderedDict or types allowlisted via `add_safe_globals`, but got <class 'evil.Payload'>":
    'evil.Payload',
    # no name in the text: read from the file itself
    'Weights only load failed. ... WeightsUnpickler error: Unsupported operand 105': None,
    'Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will '
    'likely succeed, but it can result in arbitrary code execution.': None,
}


@pytest.mark.parametrize('text', list(WORDINGS), ids=[f'w{i}' for i in range(len(WORDINGS))])
def test_refusal_names_the_global_in_every_wording(tmp_path, monkeypatch, text):
    evil, marker = make_evil(tmp_path)
    expected = WORDINGS[text]
    assert offending_global_in_message(text) == expected

    def fake_load(*args, **kwargs):
        assert kwargs.get('weights_only') is True
        raise __import__('pickle').UnpicklingError(text)

    monkeypatch.setattr(torch, 'load', fake_load)
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(evil, map_location='cpu')
    named = expected or 'builtins.exec'  # the file's own global
    message = str(err.value)
    assert f'Refused to load checkpoint {evil!r}' in message
    assert f'offending global: {named}' in message, message
    assert err.value.offending_global == named
    assert '\x1b[' not in message
    assert not osp.exists(marker)


def test_real_refusal_names_blocked_module_global(tmp_path, monkeypatch):
    """torch's own wording for a blocked module (os.system pickles as
    posix.system), end to end."""
    marker = tmp_path / 'ran'

    class Shell:
        def __reduce__(self):
            return os.system, (f'touch {marker}', )

    path = str(tmp_path / 'shell.pth')
    torch.save(dict(state_dict=dict(w=torch.zeros(1)), x=Shell()), path)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(path)
    assert err.value.offending_global == f'{os.system.__module__}.system'
    assert not marker.exists()


@pytest.mark.parametrize('kind', ['text', 'random', 'random_pickle_header', 'empty'])
def test_text_or_garbage_is_not_a_torch_checkpoint(tmp_path, kind):
    path = str(tmp_path / f'{kind}.pth')
    rng = np.random.default_rng(0)
    data = {'text': b'model:\n  depth: 50\n  weights: see README.md\n' * 20,
            'random': rng.bytes(4096),
            'random_pickle_header': b'\x80\x02' + rng.bytes(4096),
            'empty': b''}[kind]
    with open(path, 'wb') as f:
        f.write(data)
    for load in (lambda: _load_checkpoint(path, map_location='cpu'), lambda: safe_torch_load(path)):
        with pytest.raises(CorruptCheckpointError) as err:
            load()
        message = str(err.value)
        assert message.startswith(f'{path}: not a torch checkpoint'), message
        assert 'operand' not in message and 'load key' not in message, message


def test_many_random_files_are_never_called_unsafe(tmp_path):
    for seed in range(40):
        path = str(tmp_path / f'{seed}.pth')
        with open(path, 'wb') as f:
            f.write(np.random.default_rng(seed).bytes(2048))
        with pytest.raises(CorruptCheckpointError, match='not a torch checkpoint'):
            safe_torch_load(path)


def test_buffer_source_messages(tmp_path):
    evil, _ = make_evil(tmp_path)
    with pytest.raises(UnsafeCheckpointError, match="'s3://b/evil.pth'"):
        safe_torch_load(io.BytesIO(open(evil, 'rb').read()), name='s3://b/evil.pth')
    with pytest.raises(CorruptCheckpointError, match='^s3://b/x.pth: not a torch checkpoint'):
        safe_torch_load(io.BytesIO(b'<html>404</html>'), name='s3://b/x.pth')


# ---------------------------------------------------------------- item 11: sha256 sidecars
def _flip_byte(path: str) -> None:
    with open(path, 'r+b') as f:
        data = f.read()
        # a byte of the tensor data: the zip stays readable
        offset = data.index(b'data/0') + 200 if b'data/0' in data else len(data) // 2
        f.seek(offset)
        f.write(bytes([data[offset] ^ 0x01]))


def test_digest_detects_a_flipped_byte(tmp_path):
    path = str(tmp_path / 'iter_8.pth')
    torch.save(dict(state_dict=dict(w=torch.randn(4096))), path)
    digest = write_checkpoint_digest(path)
    sidecar = open(path + DIGEST_SUFFIX).read()
    assert sidecar == f'{digest}  iter_8.pth\n'
    assert digest == hashlib.sha256(open(path, 'rb').read()).hexdigest()
    _load_checkpoint(path, map_location='cpu')
    _flip_byte(path)
    with pytest.raises(CorruptCheckpointError) as err:
        _load_checkpoint(path, map_location='cpu')
    assert repr(path) in str(err.value) and 'sha256' in str(err.value)


def test_hook_writes_and_prunes_digests(tmp_path):
    from mmengine.fileio import get_file_backend

    from mmdense.engine.hooks.checkpoint_hook import SafeCheckpointHook
    hook = SafeCheckpointHook(interval=4, by_epoch=False, max_keep_ckpts=1, check_finite=False)
    hook.out_dir = str(tmp_path)
    hook.file_backend = get_file_backend(str(tmp_path))
    hook.keep_ckpt_ids = collections.deque([], 1)
    saved = {}

    def save_checkpoint(out_dir, filename, *args, **kwargs):
        saved[filename] = torch.randn(64)
        torch.save(dict(state_dict=dict(w=saved[filename])), osp.join(out_dir, filename))

    hub = types.SimpleNamespace(update_info=lambda *a: None)
    runner = types.SimpleNamespace(work_dir=str(tmp_path), message_hub=hub,
                                   save_checkpoint=save_checkpoint)
    hook._save_checkpoint_with_step(runner, 4, dict(iter=4))
    first = str(tmp_path / 'iter_4.pth')
    assert osp.isfile(first + DIGEST_SUFFIX)
    # a stale sidecar of an earlier run is replaced, not trusted
    with open(str(tmp_path / 'iter_8.pth') + DIGEST_SUFFIX, 'w') as f:
        f.write('0' * 64 + '  iter_8.pth\n')
    hook._save_checkpoint_with_step(runner, 8, dict(iter=8))
    assert sorted(os.listdir(tmp_path)) == ['iter_8.pth', 'iter_8.pth.sha256', 'last_checkpoint']
    loaded = _load_checkpoint(str(tmp_path / 'iter_8.pth'))
    assert torch.equal(loaded['state_dict']['w'], saved['iter_8.pth'])
    _flip_byte(str(tmp_path / 'iter_8.pth'))
    with pytest.raises(CorruptCheckpointError, match=r'iter_8\.pth.*sha256'):
        _load_checkpoint(str(tmp_path / 'iter_8.pth'))


@pytest.mark.slow
def test_resume_from_a_flipped_checkpoint_is_refused(tmp_path):
    """A real run writes the sidecar; --resume of a bit-flipped file fails
    with an error naming it."""
    from tests.harness.reliability import train_in_process
    cfg = tiny_config(str(tmp_path / 'cfg.py'), max_iters=4, interval=4)
    work = tmp_path / 'work'
    train_in_process(cfg, work)
    path = str(work / 'iter_4.pth')
    assert osp.isfile(path + DIGEST_SUFFIX)
    _flip_byte(path)
    longer = tiny_config(str(tmp_path / 'cfg8.py'), max_iters=8, interval=4)
    with pytest.raises(CorruptCheckpointError, match=r'iter_4\.pth.*sha256'):
        train_in_process(longer, work, '--resume')
