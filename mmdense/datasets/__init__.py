# Copyright (c) mmdense contributors. All rights reserved.
from .cityscapes27 import Cityscapes27Dataset
from .coco_stuff27 import CocoStuff27Dataset
from .davis import DAVIS2017
from .synthetic_scenes import SyntheticSceneDataset
from .transforms import *  # noqa: F401,F403
from .unlabeled import UnlabeledImageDataset

__all__ = ['Cityscapes27Dataset', 'CocoStuff27Dataset', 'DAVIS2017', 'SyntheticSceneDataset', 'UnlabeledImageDataset']
