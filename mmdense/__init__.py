# Copyright (c) mmdense contributors. All rights reserved.
"""mmdense: self-supervised dense representation learning on OpenMMLab.

Importing mmdense changes nothing global (no torch / mmengine patching).
Checkpoint safety (weights-only loading for every checkpoint scheme, the
allow-listed globals mmdense's checkpoints need, atomic local writes) is
installed by one explicit, idempotent call,
``mmdense.utils.install_checkpoint_safety()``, which ``tools/train.py``,
``tools/test.py`` and ``SafeCheckpointHook`` make; an mmdet/mmseg config opts
in with ``custom_imports=dict(imports=['mmdense', 'mmdense.safety'], ...)``.
"""
from . import utils  # noqa: F401  (mmdense.utils.install_checkpoint_safety)
from .version import __version__, version_info

__all__ = ['__version__', 'version_info']
