# Copyright (c) mmdense contributors. All rights reserved.
# Importing this package installs nothing: checkpoint safety is the explicit
# mmdense.utils.install_checkpoint_safety() (see mmdense/safety.py and
# docs/user_guides/reliability.md).
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
