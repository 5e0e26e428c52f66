# Copyright (c) mmdense contributors. All rights reserved.
from .coco_stuff27 import CocoStuff27Dataset
from .synthetic_scenes import SyntheticSceneDataset
from .transforms import *  # noqa: F401,F403
from .unlabeled import UnlabeledImageDataset

__all__ = ['CocoStuff27Dataset', 'SyntheticSceneDataset', 'UnlabeledImageDataset']
