# Copyright (c) mmdense contributors. All rights reserved.
from .synthetic_scenes import SyntheticSceneDataset
from .transforms import *  # noqa: F401,F403
from .unlabeled import UnlabeledImageDataset

__all__ = ['SyntheticSceneDataset', 'UnlabeledImageDataset']
