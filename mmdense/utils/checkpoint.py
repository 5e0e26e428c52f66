# Copyright (c) mmdense contributors. All rights reserved.
"""Checkpoints that cannot run code: ``torch.load(weights_only=True)`` for
every source mmengine can load from, with errors naming the file.

Nothing here changes any global state when it is imported. Everything is
installed by ONE explicit, idempotent call, :func:`install_checkpoint_safety`,
which ``tools/train.py``, ``tools/test.py`` and ``SafeCheckpointHook`` make,
and which importing :mod:`mmdense.safety` makes (the opt-in for mmdet/mmseg
configs: ``custom_imports=dict(imports=['mmdense', 'mmdense.safety'])``).
See the "Safe checkpoints" section of ``docs/user_guides/reliability.md``.

What the call installs:

1. **Allow-listed globals** (:func:`register_safe_globals`). torch >= 2.6
   loads with ``weights_only=True``; an mmengine training checkpoint also
   holds ``mmengine.logging.history_buffer.HistoryBuffer`` and numpy arrays /
   scalars (message hub), which are allow-listed, and nothing else.
   ``HistoryBuffer.__getstate__`` pickles its statistics *functions*
   (``getattr(HistoryBuffer, 'min')``); allow-listing ``getattr`` would let a
   checkpoint reach any attribute of an allowed class, so HistoryBuffer is
   made to pickle as data only (its ``__setstate__`` restores the default
   statistics). Checkpoints written by stock mmengine (functions inside) are
   refused; re-save them from a process that made the call.
2. **Weights-only loaders for every scheme** of mmengine's
   ``CheckpointLoader`` (:func:`register_safe_checkpoint_loaders`): local
   paths, ``http(s)://`` (downloaded into torch's hub cache as mmengine does),
   ``s3://`` / ``petrel://`` (file backend ``get()``), ``pavi://``, and the
   named schemes ``torchvision://`` / ``modelzoo://``, ``open-mmlab://`` /
   ``openmmlab://``, ``mmcls://``, which resolve to http(s) and end in the
   safe http loader. A scheme mmdense does not know (registered by a plugin
   or a newer mmengine) is refused rather than loaded unsafely.
3. **Atomic local writes** (``mmdense.utils.fileio``).
"""
import hashlib
import io
import os
import os.path as osp
import pickle
import pickletools
import re
import sys
import zipfile
from typing import IO, Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch


def _numpy_globals() -> List:
    """numpy's array / scalar reconstruction functions and dtype classes."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    found = [_reconstruct, scalar, np.ndarray, np.dtype]
    dtype_classes = getattr(np, 'dtypes', None)
    if dtype_classes is not None:
        found += [getattr(dtype_classes, name) for name in dir(dtype_classes)
                  if name.endswith('DType')]
    return found


def safe_checkpoint_globals() -> List:
    """The classes/functions mmengine training checkpoints need besides tensors."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer] + _numpy_globals()


def _history_buffer_state(self) -> dict:
    """``HistoryBuffer.__getstate__`` without the statistics functions."""
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def register_safe_globals() -> None:
    """Allow-list :func:`safe_checkpoint_globals` for ``weights_only`` loading
    and make ``HistoryBuffer`` pickle as data only.

    Idempotent; part of :func:`install_checkpoint_safety`. The allow-list is a
    no-op on torch < 2.4, which has no ``add_safe_globals``.
    """
    from mmengine.logging import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_state
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(safe_checkpoint_globals())


# --------------------------------------------------------------------------
# Refusing unsafe or damaged checkpoints with a message naming the file.
# --------------------------------------------------------------------------
class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled object that is neither a tensor nor plain
    data (or an allow-listed class); it was refused without being executed.

    Attributes:
        offending_global (str | None): the module-level name (``os.system``)
            the file wanted to import, when it could be told.
    """

    offending_global: Optional[str] = None


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is truncated, damaged or not a torch checkpoint."""


_NAME = r'[A-Za-z_][\w.]*[\w]'
# the global torch names, in the wordings of torch 1.13 ... 2.14:
#   "Unsupported global: GLOBAL os.system was not an allowed global ..." (2.4+)
#   "Trying to load unsupported GLOBAL posix.system whose module posix is blocked"
#   "Unsupported class os.system" (1.13 - 2.3)
#   "Can only build Tensor, ... but got <class 'x.Y'>"
#   "Trying to call reduce for unrecognized function <built-in function
#    system> which belongs to <module 'posix' (built-in)>"
_GLOBAL_PATTERNS = (
    re.compile(r'\bGLOBAL\s+(' + _NAME + ')'),
    re.compile(r'unsupported\s+global[:\s]+(?:GLOBAL\s+)?(?!by\b|was\b)(' + _NAME + ')',
               re.IGNORECASE),
    re.compile(r'unsupported\s+class\s+(' + _NAME + ')', re.IGNORECASE),
    re.compile(r"but got <class '(" + _NAME + r")'>"),
)
_REDUCE = re.compile(r"unrecognized function <(?:built-in )?(?:function|method) (" + _NAME +
                     r")[^>]*>(?:\s+which belongs to <(?:module|class) '(" + _NAME + r")')?",
                     re.IGNORECASE)
_OPERAND = re.compile(r'Unsupported operand\s+(\d+)', re.IGNORECASE)
# the line of torch's long message worth quoting
_REASON = re.compile(r'(Unsupported (?:global|class|operand)|unsupported GLOBAL|Trying to '
                     r'(?:call reduce|load unsupported)|Can only (?:build|create|append)|'
                     r'Weights only load failed)', re.IGNORECASE)


def offending_global_in_message(text: str) -> Optional[str]:
    """The global a weights-only refusal names (``'os.system'``), whatever
    torch's wording; None when the text names none (e.g. "Unsupported
    operand 105", where only the file tells, see :func:`unsafe_globals_in`)."""
    for pattern in _GLOBAL_PATTERNS:
        found = pattern.search(text)
        if found:
            name = found.group(1)
            # torch shortens builtins.exec to "exec"; a module-level global
            # always has a dot otherwise
            return name if '.' in name else f'builtins.{name}'
    found = _REDUCE.search(text)
    if found:
        func, owner = found.group(1), found.group(2)
        if owner and not func.startswith(owner + '.'):
            return f'{owner}.{func.rsplit(".", 1)[-1]}'
        return func
    return None


def _refusal_reason(err: BaseException) -> str:
    """The useful line of torch's (long) weights-only error, complete (dotted
    names are not cut)."""
    text = str(err).replace('\x1b[1m', '').replace('\x1b[0m', '')
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    chosen = None
    for line in lines:
        for found in _REASON.finditer(line):
            if not found.group(1).lower().startswith('weights only'):
                chosen = line[found.start():]
                break
        if chosen is not None:
            break
    if chosen is None:
        chosen = lines[-1] if lines else type(err).__name__
    # the first sentence: a period followed by a space or the end, not a dotted name
    chosen = re.split(r'\.(?:\s|$)', chosen, maxsplit=1)[0]
    return chosen[:300]


_STRING_OPS = {'STRING', 'BINSTRING', 'SHORT_BINSTRING', 'UNICODE', 'BINUNICODE',
               'SHORT_BINUNICODE', 'BINUNICODE8'}


def _python3_name(module: str, name: str) -> str:
    """``module.name`` as Python 3 (and torch) resolve a protocol <= 2 global
    (``__builtin__.exec`` is ``builtins.exec``)."""
    try:
        from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
    except ImportError:  # pragma: no cover
        return f'{module}.{name}'
    if (module, name) in NAME_MAPPING:
        module, name = NAME_MAPPING[(module, name)]
    elif module in IMPORT_MAPPING:
        module = IMPORT_MAPPING[module]
    return f'{module}.{name}'


def _pickle_globals(stream: IO[bytes]) -> List[str]:
    """The globals one pickle in ``stream`` imports, read without executing
    it (``pickletools.genops``); raises ``ValueError`` if it is no pickle."""
    names, memo, last_strings, memo_next = [], {}, [], 0
    for op, arg, _ in pickletools.genops(stream):
        name = op.name
        if name in ('GLOBAL', 'INST'):
            module, _, attr = str(arg).partition(' ')
            names.append(_python3_name(module, attr))
        elif name == 'STACK_GLOBAL' and len(last_strings) >= 2:
            names.append(_python3_name(last_strings[-2], last_strings[-1]))
        if name in _STRING_OPS:
            last_strings.append(str(arg))
        elif name in ('BINPUT', 'LONG_BINPUT', 'PUT') and last_strings:
            memo[arg] = last_strings[-1]
        elif name == 'MEMOIZE':
            memo[memo_next] = last_strings[-1] if last_strings else ''
            memo_next += 1
        elif name in ('BINGET', 'LONG_BINGET', 'GET') and arg in memo:
            last_strings.append(memo[arg])
        elif name not in ('PROTO', 'FRAME', 'MEMOIZE', 'BINPUT', 'LONG_BINPUT', 'PUT'):
            last_strings.append('')  # any other push breaks a module/name pair
        last_strings = last_strings[-2:]
    return names


def _allowed_global_names() -> set:
    allowed = set()
    try:
        from torch import _weights_only_unpickler as wo
        allowed.update(wo._get_allowed_globals())
        allowed.update(wo._get_user_allowed_globals())
    except Exception:  # private API of torch; fall back to the public one
        for item in getattr(torch.serialization, 'get_safe_globals', lambda: [])():
            if isinstance(item, tuple):
                allowed.add(item[1])
            else:
                allowed.add(f'{item.__module__}.{getattr(item, "__qualname__", item)}')
    return allowed


def unsafe_globals_in(source: Union[str, IO[bytes]]) -> List[str]:
    """The globals of a checkpoint that ``weights_only`` loading does not
    allow, found by reading its pickle(s) without executing them. Returns []
    when the file holds none or cannot be parsed."""
    try:
        if isinstance(source, str):
            with open(source, 'rb') as f:
                data = f.read()
        else:
            position = source.tell()
            data = source.read()
            source.seek(position)
    except OSError:
        return []
    pickles: List[bytes] = []
    buffer = io.BytesIO(data)
    if zipfile.is_zipfile(buffer):
        try:
            with zipfile.ZipFile(buffer) as archive:
                pickles = [archive.read(n) for n in archive.namelist() if n.endswith('.pkl')]
        except (zipfile.BadZipFile, OSError, RuntimeError):
            return []
        streams = [io.BytesIO(p) for p in pickles]
    else:
        streams = [io.BytesIO(data)] * 4  # legacy format: a few pickles in a row
    allowed = _allowed_global_names()
    found: List[str] = []
    for stream in streams:
        try:
            names = _pickle_globals(stream)
        except Exception:  # not (or no longer) a pickle
            break
        found += [n for n in names if n not in allowed and n not in found
                  and not n.startswith('torch.')]
    return found


def _first_pickle_ops(head: bytes) -> Optional[List[Tuple[str, Any]]]:
    """The opcodes of the pickle ``head`` starts with (read, not run), or
    None if it does not start with one complete pickle."""
    ops = []
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(head)):
            ops.append((op.name, arg))
            if op.name == 'STOP':
                return ops
    except Exception:
        return None
    return None


def _sniff(source: Union[str, IO[bytes]]) -> Tuple[str, bytes]:
    """What ``source`` is, from its first bytes: ``'empty'``, ``'zip'``
    (torch >= 1.6 checkpoints, or a damaged one), ``'legacy'`` (torch's
    pickle format: a pickled magic number first), ``'pickle'`` (some other
    pickle), ``'other'`` (text, garbage); and those bytes."""
    if isinstance(source, str):
        with open(source, 'rb') as f:
            head = f.read(1 << 20)
    else:
        position = source.tell()
        head = source.read(1 << 20)
        source.seek(position)
    if not head:
        return 'empty', head
    if head.startswith(b'PK'):
        return 'zip', head
    ops = _first_pickle_ops(head)
    if ops is None:
        return 'other', head
    magic = getattr(torch.serialization, 'MAGIC_NUMBER', 0x1950a86a20f9469cfc6c)
    if any(arg == magic for _, arg in ops):
        return 'legacy', head
    return 'pickle', head


def _not_a_checkpoint(display: str, kind: str, head: bytes, detail: str = '') -> str:
    if kind == 'empty':
        why = 'the file is empty'
    else:
        text = all(32 <= c < 127 or c in (9, 10, 13) for c in head[:256])
        why = (f'it holds {"text" if text else "binary data"} starting with {head[:16]!r}; a '
               'torch checkpoint is a zip archive, or a pickle in torch\'s legacy format')
    if detail:
        why += f'; {detail}'
    return f'{display}: not a torch checkpoint ({why}).'


def _label(source: Union[str, IO[bytes]], name: Optional[str]) -> str:
    if name is None:
        return repr(source) if isinstance(source, str) else repr('<buffer>')
    if isinstance(source, str) and source != name:
        return f'{name!r} (local copy {source!r})'
    return repr(name)


def safe_torch_load(filename: Union[str, IO[bytes]], map_location=None,
                    name: Optional[str] = None) -> Any:
    """``torch.load(filename, weights_only=True)`` with errors naming the file.

    ``weights_only=True`` is passed explicitly, so neither torch's default
    nor ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` can turn it off.

    Args:
        filename (str | file): a local path or a binary buffer.
        map_location: as for ``torch.load``.
        name (str, optional): what error messages call the checkpoint (a URL
            for a download); defaults to ``filename``.

    Raises:
        UnsafeCheckpointError: the file needs a global that is not
            allow-listed (e.g. a class whose ``__reduce__`` would run code);
            nothing of it was executed. The message names the global
            (``offending global: os.system``), whatever torch's wording.
        CorruptCheckpointError: the file is truncated
            ("Checkpoint '<path>' is truncated ...") or is no torch checkpoint
            at all ("<path>: not a torch checkpoint (...)").
    """
    display = name if name is not None else (
        filename if isinstance(filename, str) else '<buffer>')
    label = _label(filename, name)
    kind, head = _sniff(filename)
    if kind in ('empty', 'other'):
        raise CorruptCheckpointError(_not_a_checkpoint(display, kind, head))
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        culprit = offending_global_in_message(str(err))
        if culprit is None:
            if not isinstance(filename, str):
                filename.seek(0)
            unsafe = unsafe_globals_in(filename)
            culprit = unsafe[0] if unsafe else None
        reason = _refusal_reason(err)
        if culprit is None and kind == 'pickle':  # a pickle, but no torch file
            raise CorruptCheckpointError(
                _not_a_checkpoint(display, kind, head, f'torch: {reason}')) from None
        refusal = UnsafeCheckpointError(
            f'Refused to load checkpoint {label}: it holds a pickled object that is not a '
            f'tensor or plain data (offending global: {culprit or "unknown"}; torch: {reason}). '
            'mmdense loads checkpoints with torch.load(weights_only=True), so nothing in the '
            'file was executed. Only if you trust its source, re-save the tensors you need '
            "(e.g. torch.save(torch.load(path, weights_only=False)['state_dict'], new_path)) "
            'and load that file.')
        refusal.offending_global = culprit
        raise refusal from None
    except Exception as err:
        if kind == 'pickle':  # a pickle that is no torch checkpoint
            raise CorruptCheckpointError(
                _not_a_checkpoint(display, kind, head, f'torch: {_refusal_reason(err)}')) from None
        text = str(err)
        if not isinstance(err, (EOFError, zipfile.BadZipFile)) and not (
                isinstance(err, RuntimeError) and any(
                    key in text for key in ('PytorchStreamReader', 'zip archive',
                                            'invalid load key', 'magic number'))):
            raise
        raise CorruptCheckpointError(
            f'Checkpoint {label} is truncated or is not a torch checkpoint '
            f'({_refusal_reason(err)}). If it is the latest one of a killed run, resume from the '
            'previous checkpoint (python tools/train.py CONFIG --resume PATH).') from None


# --------------------------------------------------------------------------
# sha256 sidecars (written by SafeCheckpointHook, checked by load_from_local)
# --------------------------------------------------------------------------
DIGEST_SUFFIX = '.sha256'


def file_sha256(filename: str) -> str:
    digest = hashlib.sha256()
    with open(filename, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def write_checkpoint_digest(filename: str) -> str:
    """Write ``<filename>.sha256`` (``sha256sum`` format) atomically; returns
    the digest."""
    from mmdense.utils.fileio import atomic_write_text
    digest = file_sha256(filename)
    atomic_write_text(f'{digest}  {osp.basename(filename)}\n', filename + DIGEST_SUFFIX)
    return digest


def verify_checkpoint_digest(filename: str) -> bool:
    """Compare ``filename`` with its ``.sha256`` sidecar, if it has one.

    Returns:
        bool: True if a sidecar was found and matched, False if none exists.

    Raises:
        CorruptCheckpointError: the content differs from the recorded digest.
    """
    sidecar = filename + DIGEST_SUFFIX
    if not osp.isfile(sidecar):
        return False
    with open(sidecar) as f:
        fields = f.read().split()
    expected = fields[0].lower() if fields else ''
    actual = file_sha256(filename)
    if actual != expected:
        raise CorruptCheckpointError(
            f'Checkpoint {filename!r} is damaged: its sha256 is {actual}, but {sidecar} '
            f'recorded {expected or "nothing"} when it was written. The file changed on disk '
            '(bit rot, a partial copy, an edit); resume from another checkpoint, or delete the '
            '.sha256 file only if you know the change is intended.')
    return True


# --------------------------------------------------------------------------
# Loaders for every scheme of mmengine's CheckpointLoader
# --------------------------------------------------------------------------
def _safe(loader: Callable) -> Callable:
    loader._mmdense_safe = True
    return loader


@_safe
def load_from_local(filename: str, map_location=None) -> Any:
    """mmengine's local checkpoint loader, with :func:`safe_torch_load` (and
    the ``.sha256`` sidecar check). Keeps its name so that mmengine still
    logs "Loads checkpoint by local backend"."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    verify_checkpoint_digest(filename)
    return safe_torch_load(filename, map_location=map_location)


def _download_url(url: str, model_dir: Optional[str] = None,
                  progress: bool = False) -> str:
    """Download ``url`` into torch's hub cache (``<hub dir>/checkpoints``, as
    ``torch.hub.load_state_dict_from_url`` / mmengine's ``load_url`` do)
    unless it is already there; returns the cached path."""
    from urllib.parse import urlparse
    from torch.hub import download_url_to_file, get_dir
    if model_dir is None:
        model_dir = osp.join(get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    basename = osp.basename(urlparse(url).path)
    if not basename:
        raise ValueError(f'{url}: the URL names no file')
    cached = osp.join(model_dir, basename)
    if not osp.exists(cached):
        sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
        download_url_to_file(url, cached, None, progress=progress)  # temp file + rename
    return cached


def _load_cached(cached: str, url: str, map_location=None) -> Any:
    """Weights-only load of a downloaded file (a legacy one-file zip, which
    torch.hub unpacks, is unpacked likewise)."""
    if zipfile.is_zipfile(cached):
        with zipfile.ZipFile(cached) as archive:
            members = archive.infolist()
            if len(members) == 1 and not members[0].is_dir():
                archive.extractall(osp.dirname(cached))
                cached = osp.join(osp.dirname(cached), members[0].filename)
    return safe_torch_load(cached, map_location=map_location, name=url)


@_safe
def load_from_http(filename: str, map_location=None, model_dir: Optional[str] = None,
                   progress: bool = os.isatty(0)) -> Any:
    """mmengine's ``load_from_http`` (rank 0 downloads first, the others
    after a barrier), loading the cached file weights-only."""
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()
    cached = None
    if rank == 0:
        cached = _download_url(filename, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            cached = _download_url(filename, model_dir, progress)
    return _load_cached(cached, filename, map_location)


@_safe
def load_from_pavi(filename: str, map_location=None) -> Any:
    """mmengine's ``load_from_pavi``, loading weights-only."""
    import tempfile
    assert filename.startswith('pavi://'), \
        f'Expected filename startswith `pavi://`, but get {filename}'
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError('Please install pavi to load checkpoint from modelcloud.')
    model = modelcloud.get(filename[7:])
    with tempfile.TemporaryDirectory() as tmp_dir:
        downloaded = osp.join(tmp_dir, model.name)
        model.download(downloaded)
        return safe_torch_load(downloaded, map_location=map_location, name=filename)


@_safe
def load_from_ceph(filename: str, map_location=None, backend: str = 'petrel') -> Any:
    """mmengine's ``load_from_ceph`` (``s3://``, ``petrel://``): the bytes
    from the file backend's ``get()``, loaded weights-only."""
    from mmengine.fileio import get_file_backend
    file_backend = get_file_backend(filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return safe_torch_load(buffer, map_location=map_location, name=filename)


@_safe
def load_from_torchvision(filename: str, map_location=None) -> Any:
    """``torchvision://NAME`` / ``modelzoo://NAME``: torchvision's URL for
    NAME, through :func:`load_from_http`."""
    from mmengine.logging import print_log
    from mmengine.runner.checkpoint import get_torchvision_models
    model_urls = get_torchvision_models()
    if filename.startswith('modelzoo://'):
        print_log('The URL scheme of "modelzoo://" is deprecated, please use "torchvision://" '
                  'instead', logger='current', level=30)
        model_name = filename[11:]
    else:
        model_name = filename[14:]
    return load_from_http(model_urls[model_name], map_location=map_location)


@_safe
def load_from_openmmlab(filename: str, map_location=None) -> Any:
    """``open-mmlab://NAME`` / ``openmmlab://NAME``: the URL (or file under
    ``MMENGINE_HOME``) mmengine's model list gives, loaded weights-only."""
    from mmengine.logging import print_log
    from mmengine.runner.checkpoint import (_get_mmengine_home, get_deprecated_model_names,
                                            get_external_models)
    model_urls = get_external_models()
    prefix = 'open-mmlab://' if filename.startswith('open-mmlab://') else 'openmmlab://'
    model_name = filename[len(prefix):]
    deprecated = get_deprecated_model_names()
    if model_name in deprecated:
        print_log(f'{prefix}{model_name} is deprecated in favor of {prefix}'
                  f'{deprecated[model_name]}', logger='current', level=30)
        model_name = deprecated[model_name]
    model_url = model_urls[model_name]
    if model_url.startswith(('http://', 'https://')):
        return load_from_http(model_url, map_location=map_location)
    return load_from_local(osp.join(_get_mmengine_home(), model_url), map_location=map_location)


@_safe
def load_from_mmcls(filename: str, map_location=None) -> Any:
    """``mmcls://NAME``: mmcls's URL for NAME through :func:`load_from_http`,
    with the backbone keys extracted as mmengine does."""
    from mmengine.runner.checkpoint import _process_mmcls_checkpoint, get_mmcls_models
    model_urls = get_mmcls_models()
    checkpoint = load_from_http(model_urls[filename[8:]], map_location=map_location)
    return _process_mmcls_checkpoint(checkpoint)


#: every prefix mmengine 0.10's CheckpointLoader registers, and its safe loader
SAFE_SCHEME_LOADERS: Dict[str, Callable] = {
    '': load_from_local,
    'http://': load_from_http,
    'https://': load_from_http,
    'pavi://': load_from_pavi,
    r'(\S+\:)?s3://': load_from_ceph,
    r'(\S+\:)?petrel://': load_from_ceph,
    'modelzoo://': load_from_torchvision,
    'torchvision://': load_from_torchvision,
    'open-mmlab://': load_from_openmmlab,
    'openmmlab://': load_from_openmmlab,
    'mmcls://': load_from_mmcls,
}


def _refusing_loader(prefix: str, original: Callable) -> Callable:
    """A loader for a scheme mmdense has no weights-only loader for."""
    where = f'{getattr(original, "__module__", "?")}.{getattr(original, "__name__", "?")}'

    def load_from_unverified_scheme(filename, map_location=None):
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {filename!r}: its scheme {prefix!r} is loaded by '
            f'{where}, which mmdense cannot make weights-only, so nothing was downloaded or '
            'unpickled. Register a loader that uses torch.load(weights_only=True) with '
            'mmdense.utils.checkpoint.register_safe_scheme(prefix, loader), or copy the file '
            'to a local path.')

    load_from_unverified_scheme._mmdense_safe = True
    load_from_unverified_scheme.original = original
    return load_from_unverified_scheme


def register_safe_scheme(prefixes: Union[str, Tuple[str, ...], List[str]],
                         loader: Callable) -> None:
    """Register ``loader`` (which must load weights-only) for ``prefixes``
    in mmengine's ``CheckpointLoader``, marked so that
    :func:`install_checkpoint_safety` keeps it."""
    from mmengine.runner.checkpoint import CheckpointLoader
    loader._mmdense_safe = True
    CheckpointLoader.register_scheme(prefixes=prefixes, loader=loader, force=True)


def register_safe_checkpoint_loaders() -> None:
    """Replace every loader of mmengine's ``CheckpointLoader`` by its
    weights-only counterpart (:data:`SAFE_SCHEME_LOADERS`); a scheme without
    one is refused. Idempotent."""
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefix, loader in SAFE_SCHEME_LOADERS.items():
        if CheckpointLoader._schemes.get(prefix) is not loader:
            CheckpointLoader.register_scheme(prefixes=prefix, loader=loader, force=True)
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if not getattr(loader, '_mmdense_safe', False):
            CheckpointLoader.register_scheme(
                prefixes=prefix, loader=_refusing_loader(prefix, loader), force=True)


# the name of earlier versions (local paths only then)
register_safe_checkpoint_loader = register_safe_checkpoint_loaders


def is_complete_checkpoint(filename: str) -> bool:
    """Cheap structural check of a torch (zip) checkpoint, without reading
    its tensors: the file exists and its zip central directory is intact
    (a file cut short during its write has none)."""
    try:
        return osp.isfile(filename) and zipfile.is_zipfile(filename)
    except OSError:
        return False


def install_checkpoint_safety() -> None:
    """Everything mmdense does to checkpoints, in one explicit, idempotent
    call (importing ``mmdense`` does none of it):

    - :func:`register_safe_globals` (resume under ``weights_only=True``);
    - :func:`register_safe_checkpoint_loaders` (every scheme of mmengine's
      ``CheckpointLoader`` loads weights-only; unsafe/corrupt files are
      refused with a message naming them and the offending global);
    - ``mmdense.utils.fileio.register_atomic_local_backend`` (every local
      write is all-or-nothing).
    """
    register_safe_globals()
    register_safe_checkpoint_loaders()
    from mmdense.utils.fileio import register_atomic_local_backend
    register_atomic_local_backend()
