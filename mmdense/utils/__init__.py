# Copyright (c) mmdense contributors. All rights reserved.
from .checkpoint import (CorruptCheckpointError, UnsafeCheckpointError, install_checkpoint_safety,
                         register_safe_globals, safe_checkpoint_globals, safe_torch_load)
from .setup_env import register_all_modules

__all__ = [
    'CorruptCheckpointError', 'UnsafeCheckpointError', 'install_checkpoint_safety',
    'register_all_modules', 'register_safe_globals', 'safe_checkpoint_globals', 'safe_torch_load'
]
