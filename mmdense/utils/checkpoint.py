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
"""
from typing import List

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
