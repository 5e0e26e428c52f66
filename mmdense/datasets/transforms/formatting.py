# Copyright (c) mmdense contributors. All rights reserved.
from typing import Dict, List, Sequence, Union

import numpy as np
import torch
from mmpretrain.datasets.transforms import PackInputs

from mmdense.registry import TRANSFORMS


def _map_to_tensor(arr: np.ndarray) -> torch.Tensor:
    arr = np.ascontiguousarray(arr)
    if arr.dtype == np.uint16:  # not a torch dtype on every supported version
        arr = arr.astype(np.int32)
    elif arr.dtype == np.uint32:
        arr = arr.astype(np.int64)
    return torch.from_numpy(arr)


@TRANSFORMS.register_module()
class PackMultiViewInputs(PackInputs):
    """Pack the views, their crop geometry and their maps (mmpretrain's ``PackInputs``).

    Layout (V views, after ``MultiViewRandomResizedCrop``):

    - ``inputs``: list of V ``(C, h_v, w_v)`` uint8 view tensors.
    - ``data_samples`` (mmpretrain ``DataSample``) fields:

      - ``view_crops`` ``(V, 4)`` float32 original-image pixels
        ``(x1, y1, x2, y2)``, before flipping;
      - ``view_flips`` ``(V,)`` bool;
      - ``view_sizes`` ``(V, 2)`` int64 ``(h, w)`` and ``view_group_ids``
        ``(V,)`` int64;
      - ``view_seg_maps``: dict ``{key: maps}`` with one entry per
        ``results['seg_fields']`` key (e.g. ``'gt_seg_map'``, a saliency
        mask, superpixel ids); ``maps`` is a ``(V, h, w[, C])`` tensor (dtype
        kept; uint16/uint32 widened to int32/int64) when all views share one
        size, else a list of V tensors. ``maps[v]`` is view ``v``'s map, cut,
        resized and flipped with it.

    Read them back batched with :func:`mmdense.structures.stack_view_geometry`
    (crops, flips), :func:`mmdense.structures.pairwise_overlap_boxes` (the
    overlap of two views in each view's frame) and
    :func:`mmdense.structures.stack_view_maps` (``(B, h, w)`` of one view).
    """

    def __init__(self,
                 algorithm_keys: Sequence[str] = ('view_crops', 'view_flips', 'view_sizes',
                                                  'view_group_ids'),
                 meta_keys: Sequence[str] = ('sample_idx', 'img_path', 'ori_shape', 'img_shape'),
                 input_key: str = 'img',
                 seg_maps_key: str = 'view_seg_maps') -> None:
        super().__init__(input_key=input_key, algorithm_keys=algorithm_keys, meta_keys=meta_keys)
        self.seg_maps_key = seg_maps_key

    def _pack_maps(self, results: Dict) -> Dict[str, Union[torch.Tensor, List[torch.Tensor]]]:
        packed = {}
        for key in results.get('seg_fields') or []:
            maps = results.get(key)
            if maps is None:
                continue
            if not isinstance(maps, (list, tuple)):
                raise ValueError(f'PackMultiViewInputs: seg field {key!r} holds one map, not one '
                                 'per view: put MultiViewRandomResizedCrop before packing '
                                 f'(img_path={results.get("img_path")!r})')
            tensors = [_map_to_tensor(m) for m in maps]
            if tensors and all(t.shape == tensors[0].shape for t in tensors):
                packed[key] = torch.stack(tensors)
            else:
                packed[key] = tensors
        return packed

    def transform(self, results: Dict) -> Dict:
        packed = super().transform(results)
        maps = self._pack_maps(results)
        if maps:
            packed['data_samples'].set_field(maps, self.seg_maps_key)
        return packed

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", seg_maps_key='{self.seg_maps_key}')"
