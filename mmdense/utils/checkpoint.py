# Copyright (c) mmdense contributors. All rights reserved.
"""Make mmengine's checkpoints load under ``torch.load(weights_only=True)``.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7's
resume then fails on the objects a training checkpoint holds besides tensors:

1. ``Unsupported global: mmengine.logging.history_buffer.HistoryBuffer`` and
   numpy arrays / scalars of the message hub. We allow-list exactly those
   classes; any other pickled object is still refused.
2. ``Unsupported global: GLOBAL getattr``: ``HistoryBuffer.__getstate__``
   pickles its statistics *functions* (``getattr(HistoryBuffer, 'min')``).
   Allow-listing ``getattr`` would let a checkpoint reach any attribute of an
   allowed class, so instead HistoryBuffer is made to pickle as data only. Its
   own ``__setstate__`` already restores the default statistics, and custom
   ones are class-level registrations that the importing code re-creates.

Checkpoints written by stock mmengine (with the functions inside) are still
refused by the safe loader; re-save them from a process that imported mmdense.

:func:`install_checkpoint_safety` adds the rest (see
``docs/user_guides/reliability.md``): local checkpoints are loaded through
:func:`load_from_local` (``weights_only=True`` always, errors naming the
file) and written atomically (``mmdense.utils.fileio``).
"""
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, List

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

    Idempotent; a no-op on torch < 2.4, which loads without ``weights_only``
    by default.
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
    data (or an allow-listed class); it was refused without being executed."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is truncated or not a torch checkpoint at all."""


_UNSUPPORTED = re.compile(r'Unsupported (?:global|operand)[^\n.]*')


def _refusal_reason(err: BaseException) -> str:
    """The useful line of torch's (long) weights-only error."""
    text = str(err)
    found = _UNSUPPORTED.search(text)
    if found:
        return found.group(0).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else type(err).__name__
    return line.split('. ')[0].rstrip('.')


def safe_torch_load(filename: str, map_location=None) -> Any:
    """``torch.load(filename, weights_only=True)`` with errors naming the file.

    ``weights_only=True`` is passed explicitly, so neither torch's default
    nor ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` can turn it off.

    Raises:
        UnsafeCheckpointError: the file needs a global that is not
            allow-listed (e.g. a class whose ``__reduce__`` would run code);
            nothing of it was executed.
        CorruptCheckpointError: the file is truncated or not a checkpoint.
    """
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {filename!r}: it holds a pickled object that is not a '
            f'tensor or plain data ({_refusal_reason(err)}). mmdense loads checkpoints with '
            'torch.load(weights_only=True), so nothing in the file was executed. Only if you '
            'trust its source, re-save the tensors you need (e.g. torch.save(torch.load(path, '
            "weights_only=False)['state_dict'], new_path)) and load that file.") from None
    except (EOFError, RuntimeError, zipfile.BadZipFile) as err:
        text = str(err)
        if isinstance(err, RuntimeError) and not any(
                key in text for key in ('PytorchStreamReader', 'zip archive', 'invalid load key',
                                        'magic number')):
            raise
        raise CorruptCheckpointError(
            f'Checkpoint {filename!r} is truncated or is not a torch checkpoint '
            f'({_refusal_reason(err)}). If it is the latest one of a killed run, resume from the '
            'previous checkpoint (python tools/train.py CONFIG --resume PATH).') from None


def load_from_local(filename: str, map_location=None) -> Any:
    """mmengine's local checkpoint loader, with :func:`safe_torch_load`.

    Registered over mmengine's ``load_from_local`` for local paths (scheme
    prefix ``''``) by :func:`register_safe_checkpoint_loader`; keeps its
    name so that mmengine still logs "Loads checkpoint by local backend".
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_torch_load(filename, map_location=map_location)


def register_safe_checkpoint_loader() -> None:
    """Load local checkpoints through :func:`load_from_local` in mmengine's
    ``CheckpointLoader`` (``Runner.load_checkpoint`` / ``resume``,
    ``mmengine.runner.load_checkpoint``, ``tools/test.py``). Idempotent.

    Remote schemes (``http://``, ``s3://`` ...) keep mmengine's loaders,
    which call ``torch.load`` with torch's default (``weights_only=True``
    since torch 2.6).
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    if CheckpointLoader._schemes.get('') is not load_from_local:
        CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


def is_complete_checkpoint(filename: str) -> bool:
    """Cheap structural check of a torch (zip) checkpoint, without reading
    its tensors: the file exists and its zip central directory is intact
    (a file cut short during its write has none)."""
    try:
        return osp.isfile(filename) and zipfile.is_zipfile(filename)
    except OSError:
        return False


def install_checkpoint_safety() -> None:
    """Everything mmdense does to checkpoints, in one idempotent call:

    - :func:`register_safe_globals` (resume under ``weights_only=True``);
    - :func:`register_safe_checkpoint_loader` (unsafe/corrupt files refused
      with a message naming them);
    - ``mmdense.utils.fileio.register_atomic_local_backend`` (every local
      write is all-or-nothing).
    """
    register_safe_globals()
    register_safe_checkpoint_loader()
    from mmdense.utils.fileio import register_atomic_local_backend
    register_atomic_local_backend()
