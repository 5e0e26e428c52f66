# Copyright (c) mmdense contributors. All rights reserved.
from typing import Sequence

from mmpretrain.datasets.transforms import PackInputs

from mmdense.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackMultiViewInputs(PackInputs):
    """Pack the views and their crop geometry (mmpretrain's ``PackInputs``).

    ``inputs`` becomes the list of ``(3, H, W)`` uint8 view tensors; the data
    sample (mmpretrain ``DataSample``) carries ``view_boxes`` ``(V, 4)``,
    ``view_flips`` ``(V,)`` and ``view_crops`` ``(V, 4)`` as fields, read back
    by :func:`mmdense.structures.stack_view_geometry`.
    """

    def __init__(self,
                 algorithm_keys: Sequence[str] = ('view_boxes', 'view_flips', 'view_crops'),
                 meta_keys: Sequence[str] = ('sample_idx', 'img_path', 'ori_shape', 'img_shape'),
                 input_key: str = 'img') -> None:
        super().__init__(input_key=input_key, algorithm_keys=algorithm_keys, meta_keys=meta_keys)
