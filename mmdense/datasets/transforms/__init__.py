# Copyright (c) mmdense contributors. All rights reserved.
from mmdense.utils.compat import patch_mmcv_adjust_hue
from .formatting import PackMultiViewInputs
from .loading import RobustLoadImageFromFile
from .photometric import FastColorJitter, FastGaussianBlur, FastRandomGrayscale
from .multi_view import (MultiViewRandomResizedCrop, TwoViewRandomResizedCrop, ViewwisePipeline,
                         resize_nearest, sample_resized_crop)
from .validation import ValidateSegMap
from .saliency import LoadSaliencyMask, MaskAreaRule
from .superpixels import Superpixels
from .vice_views import CannyCentre, MutualRegionFilter, RegionMasking

# mmpretrain's ColorJitter (used by every pre-training pipeline here) calls
# mmcv.adjust_hue, which mmcv 2.1.0 breaks on numpy >= 2 (see compat.py).
patch_mmcv_adjust_hue()

__all__ = [
    'MultiViewRandomResizedCrop', 'PackMultiViewInputs', 'RobustLoadImageFromFile',
    'TwoViewRandomResizedCrop', 'ValidateSegMap', 'ViewwisePipeline', 'resize_nearest',
    'sample_resized_crop', 'Superpixels', 'CannyCentre', 'MutualRegionFilter', 'RegionMasking',
    'LoadSaliencyMask', 'MaskAreaRule', 'FastColorJitter', 'FastGaussianBlur', 'FastRandomGrayscale'
]
