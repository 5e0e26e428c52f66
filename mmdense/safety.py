# Copyright (c) mmdense contributors. All rights reserved.
"""Importing this module IS the opt-in to mmdense's checkpoint safety.

``import mmdense`` changes nothing global; importing ``mmdense.safety`` calls
:func:`mmdense.utils.install_checkpoint_safety` (idempotent), which

- loads every checkpoint mmengine's ``CheckpointLoader`` handles (local
  paths, ``http(s)://``, ``s3://``/``petrel://``, ``pavi://``,
  ``torchvision://``, ``open-mmlab://``, ``mmcls://`` ...) with
  ``torch.load(weights_only=True)``, refusing pickled code with an
  ``UnsafeCheckpointError`` naming the file and the offending global;
- allow-lists the few mmengine/numpy classes of a training checkpoint and
  makes ``HistoryBuffer`` pickle as data only;
- makes local file writes atomic.

It exists for the entry points mmdense does not own, mmdet's and mmseg's
``tools/train.py`` / ``tools/test.py``, which import a config's
``custom_imports`` before building anything::

    custom_imports = dict(imports=['mmdense', 'mmdense.safety'], allow_failed_imports=False)

In Python code, call ``mmdense.utils.install_checkpoint_safety()`` instead.
"""
from mmdense.utils.checkpoint import install_checkpoint_safety

install_checkpoint_safety()

__all__ = ['install_checkpoint_safety']
