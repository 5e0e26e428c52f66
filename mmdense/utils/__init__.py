# Copyright (c) mmdense contributors. All rights reserved.
from .checkpoint import register_safe_globals, safe_checkpoint_globals
from .setup_env import register_all_modules

__all__ = ['register_all_modules', 'register_safe_globals', 'safe_checkpoint_globals']
