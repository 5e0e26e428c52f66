# Copyright (c) mmdense contributors. All rights reserved.
"""mmdense: self-supervised dense representation learning on OpenMMLab."""
from .utils.checkpoint import register_safe_globals
from .version import __version__, version_info

# Resume under torch >= 2.6 (weights_only=True) needs a few mmengine/numpy
# classes allow-listed; see mmdense/utils/checkpoint.py.
register_safe_globals()

__all__ = ['__version__', 'version_info']
