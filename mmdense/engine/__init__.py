# Copyright (c) mmdense contributors. All rights reserved.
from mmdense.utils.checkpoint import install_checkpoint_safety
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403

# Local checkpoint writes become atomic, and local checkpoints load with
# torch.load(weights_only=True) only (errors name the file); see
# docs/user_guides/reliability.md.
install_checkpoint_safety()
