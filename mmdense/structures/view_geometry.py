# Copyright (c) mmdense contributors. All rights reserved.
"""Crop geometry of multi-view samples: the box math and reading it back.

``MultiViewRandomResizedCrop`` records, per view, only its crop in the
original image (``view_crops``, pixels ``(x1, y1, x2, y2)`` before flipping)
and its flip (``view_flips``). Everything pairwise (the overlap of two views
expressed in each view's own frame, as SlotCon's inverse augmentation needs)
is *derived* here, so any pair of any number of views can be asked for.

The box math lives here once and works on numpy arrays and torch tensors
alike (float64 arithmetic, float32 result, so a pair's boxes are bit-identical
whether computed per sample in the data pipeline or per batch on a device).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

Box = Tuple[float, float, float, float]  # x1, y1, x2, y2 in original-image pixels
Array = Union[np.ndarray, torch.Tensor]


def _to_torch(x: Array) -> Tuple[torch.Tensor, bool]:
    """``(x as a tensor, whether it was numpy)``; the box maths runs in torch
    only (float64 arithmetic and the float32 rounding are IEEE in both)."""
    if isinstance(x, torch.Tensor):
        return x, False
    return torch.from_numpy(np.asarray(x)), True


def intersect_boxes(a: Array, b: Array) -> Array:
    """Element-wise intersection ``(..., 4)`` of two box arrays (same dtype).

    The result is inverted (``x2 <= x1`` or ``y2 <= y1``) where the boxes do
    not overlap; see :func:`boxes_nonempty`.
    """
    (ta, was_numpy), (tb, _) = _to_torch(a), _to_torch(b)
    inter = torch.cat([torch.maximum(ta[..., :2], tb[..., :2]),
                       torch.minimum(ta[..., 2:], tb[..., 2:])], -1)
    return inter.numpy() if was_numpy else inter


def boxes_nonempty(boxes: Array) -> Array:
    """``(...)`` bool: whether each ``(..., 4)`` box has a positive area."""
    return (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])


def boxes_in_views(boxes: Array, crops: Array, flips: Array) -> Array:
    """Express boxes in the normalised frames of the views cut from ``crops``.

    Args:
        boxes: ``(..., 4)`` regions in original-image pixels.
        crops: ``(..., 4)`` the views' crops in original-image pixels.
        flips: ``(...)`` bool, whether each view was mirrored after cropping.

    Returns:
        ``(..., 4)`` float32 ``(x1, y1, x2, y2)``, in ``[0, 1]`` for a box
        inside its crop (a flipped view maps ``x1' = 1 - x2``,
        ``x2' = 1 - x1``). Computed in float64, then rounded to float32.
    """
    box, was_numpy = _to_torch(boxes)
    box = box.to(torch.float64)
    crop = _to_torch(crops)[0].to(box.device, torch.float64)
    flipped = _to_torch(flips)[0].to(box.device, torch.bool)
    size = crop[..., 2:] - crop[..., :2]  # (w, h)
    lo = (box[..., :2] - crop[..., :2]) / size  # (x1, y1)
    hi = (box[..., 2:] - crop[..., :2]) / size  # (x2, y2)
    x1 = torch.where(flipped, 1.0 - hi[..., 0], lo[..., 0])
    x2 = torch.where(flipped, 1.0 - lo[..., 0], hi[..., 0])
    out = torch.stack([x1, lo[..., 1], x2, hi[..., 1]], -1).to(torch.float32)
    return out.numpy() if was_numpy else out


def box_intersection(a: Box, b: Box) -> Optional[Box]:
    """Intersection of two pixel boxes, or ``None`` when it is empty."""
    inter = intersect_boxes(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    if not boxes_nonempty(inter):
        return None
    return tuple(inter.tolist())


def box_area(box: Box) -> float:
    """Area of a pixel box ``(x1, y1, x2, y2)``."""
    return (box[2] - box[0]) * (box[3] - box[1])


def box_in_view(box: Box, crop: Box, flipped: bool) -> np.ndarray:
    """One box in the normalised frame of one view: ``(4,)`` float32.

    See :func:`boxes_in_views` (this is its single-box form).
    """
    return boxes_in_views(np.asarray(box, dtype=np.float64), np.asarray(crop, dtype=np.float64),
                          np.asarray(bool(flipped)))


def pairwise_overlap_boxes(view_crops: Array,
                           view_flips: Array,
                           i: int,
                           j: int,
                           return_valid: bool = False):
    """The overlap of views ``i`` and ``j`` in each of the two views' frames.

    This is what SlotCon's inverse augmentation needs (SPEC §1): the
    intersection of the two crops, normalised to each view's own ``[0, 1]``
    frame after its flip. Bit-identical to the ``view_boxes`` the two-view
    crop used to store.

    Args:
        view_crops: ``(..., V, 4)`` crops in original-image pixels (e.g.
            ``(B, V, 4)`` from :func:`stack_view_geometry`), a tensor (any
            device) or a numpy array.
        view_flips: ``(..., V)`` bool.
        i, j: the two views.
        return_valid: also return ``(...)`` bool, whether the crops overlap.
            ``MultiViewRandomResizedCrop`` guarantees it for every view of an
            ``overlap=True`` group paired with view 0 (and for every pair when
            a shared centre is used); other pairs (e.g. two local views) may
            be disjoint, and then their boxes are inverted.

    Returns:
        tuple: ``boxes_i``, ``boxes_j`` ``(..., 4)`` float32 (same type as the
        input), plus ``valid`` if asked.
    """
    crops, was_numpy = _to_torch(view_crops)
    crops = crops.to(torch.float64)
    view_flips = _to_torch(view_flips)[0].to(crops.device, torch.bool)
    crop_i, crop_j = crops[..., i, :], crops[..., j, :]
    inter = intersect_boxes(crop_i, crop_j)
    out = (boxes_in_views(inter, crop_i, view_flips[..., i]),
           boxes_in_views(inter, crop_j, view_flips[..., j]))
    if return_valid:
        out += (boxes_nonempty(inter), )
    return tuple(o.numpy() for o in out) if was_numpy else out


def stack_view_geometry(data_samples: List,
                        device: torch.device = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Batch the per-sample ``view_crops`` and ``view_flips`` fields.

    Args:
        data_samples (list): data samples packed by ``PackMultiViewInputs``.
        device (torch.device, optional): where to put the tensors.

    Returns:
        tuple: ``crops`` ``(B, V, 4)`` float32 original-image pixels
        ``(x1, y1, x2, y2)`` (before flipping; integer-valued) and ``flips``
        ``(B, V)`` bool. Derive pairwise overlaps with
        :func:`pairwise_overlap_boxes`.
    """
    try:
        crops = np.stack([np.asarray(ds.view_crops, dtype=np.float32) for ds in data_samples])
        flips = np.stack([np.asarray(ds.view_flips, dtype=bool) for ds in data_samples])
    except AttributeError as err:
        raise KeyError('data samples lack view_crops/view_flips: build the pipeline with '
                       'MultiViewRandomResizedCrop and PackMultiViewInputs') from err
    return (torch.from_numpy(crops).to(device), torch.from_numpy(flips).to(device))


def stack_view_maps(data_samples: List,
                    key: str,
                    view: int,
                    device: torch.device = None) -> torch.Tensor:
    """Batch one view's copy of a per-view map (a ``seg_fields`` entry).

    Args:
        data_samples (list): data samples packed by ``PackMultiViewInputs``
            (the maps live in the ``view_seg_maps`` dict field).
        key (str): the results key of the map, e.g. ``'gt_seg_map'``.
        view (int): which view.
        device (torch.device, optional): where to put the tensor.

    Returns:
        torch.Tensor: ``(B, H, W)`` int64 (the view's size; all samples of
        the batch must share it).
    """
    maps = []
    for n, ds in enumerate(data_samples):
        per_key: Optional[Dict[str, Sequence[torch.Tensor]]] = ds.get('view_seg_maps', None)
        if per_key is None or key not in per_key:
            raise KeyError(f'data sample {n} has no per-view map {key!r} (available: '
                           f'{sorted(per_key) if per_key else []}); list it in '
                           f'results["seg_fields"] before MultiViewRandomResizedCrop and pack '
                           'with PackMultiViewInputs')
        maps.append(torch.as_tensor(per_key[key][view]).long())
    return torch.stack(maps).to(device)
