# Copyright (c) mmdense contributors. All rights reserved.
"""Pooling dense features into region / slot vectors.

``segment_mean_pool`` / ``compact_region_ids`` are hand-written on
``torch.unique`` and ``index_add``: torch-scatter is not a dependency and
mmcv / mmseg have no batched hard-segment mean with a variable number of
regions per image.
"""
from typing import Tuple

import torch


def soft_region_pool(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean of pixel features under soft region weights.

    ``slot_k = sum_hw w_khw z_hw / sum_hw w_khw`` (SlotCon's slot pooling).

    Args:
        features (Tensor): ``(B, D, H, W)`` pixel features.
        weights (Tensor): ``(B, K, H, W)`` non-negative soft assignments; each
            ``(b, k)`` map must have a positive sum (add an epsilon upstream).

    Returns:
        Tensor: ``(B, K, D)`` region vectors.
    """
    weights = weights / weights.sum(dim=(2, 3), keepdim=True)
    return torch.einsum('bdhw,bkhw->bkd', features, weights)


def argmax_presence(scores: torch.Tensor) -> torch.Tensor:
    """Which of the K assignments win at least one pixel.

    Args:
        scores (Tensor): ``(B, K, H, W)``.

    Returns:
        Tensor: ``(B, K)`` bool, ``True`` where ``k`` is the argmax of at least
        one pixel of that sample.
    """
    batch, num_k = scores.shape[:2]
    winners = scores.argmax(dim=1).flatten(1)  # (B, HW)
    presence = torch.zeros(batch, num_k, dtype=torch.bool, device=scores.device)
    return presence.scatter_(1, winners, True)


def compact_region_ids(segments: torch.Tensor,
                       ignore_index: int = -1) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Number the regions of a batch of label maps consecutively.

    Region ``k`` of image ``b`` gets the key ``b * S + k`` (``S`` = largest id
    + 1), and ``torch.unique(..., return_inverse=True)`` turns the keys into
    ids ``0 .. R-1``, sorted by image then by original id. Ids that do not
    occur in an image get no number.

    Args:
        segments (Tensor): ``(B, ...)`` integer region ids (e.g. ``(B, H, W)``);
            negative values and ``ignore_index`` mean "no region".
        ignore_index (int): label of pixels that belong to no region.

    Returns:
        tuple:
        - ``compact`` (Tensor): long, shaped like ``segments``, in
          ``[0, R)``, ``-1`` where ignored.
        - ``batch_index`` (Tensor): ``(R,)`` long, the image of each region.
        - ``region_id`` (Tensor): ``(R,)`` long, its original id.
    """
    segments = segments.long()
    valid = (segments >= 0) & (segments != ignore_index)
    flat_batch = torch.arange(segments.shape[0], device=segments.device).view(
        -1, *([1] * (segments.dim() - 1))).expand_as(segments)
    stride = int(segments.max().clamp(min=0)) + 1 if segments.numel() else 1
    keys = flat_batch * stride + segments.clamp(min=0)
    unique_keys, inverse = torch.unique(keys[valid], return_inverse=True)
    compact = torch.full_like(segments, -1)
    compact[valid] = inverse
    return compact, unique_keys // stride, unique_keys % stride


def segment_mean_pool(features: torch.Tensor,
                      segments: torch.Tensor,
                      ignore_index: int = -1) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean feature of every (image, region) pair, in one scatter reduction.

    The pixels of the whole batch are summed into their region with one
    ``index_add`` (ids made consecutive over the batch by
    :func:`compact_region_ids`) and divided by the pixel counts; there is no
    loop over images or regions. Regions absent from an image are not
    returned. Sums are accumulated in float32; gradients flow to
    ``features``.

    Args:
        features (Tensor): ``(B, D, H, W)``.
        segments (Tensor): ``(B, H, W)`` integer region ids at the features'
            resolution (resize label maps with nearest sampling first);
            negative values and ``ignore_index`` belong to no region.
        ignore_index (int): label of pixels that belong to no region.

    Returns:
        tuple:
        - ``pooled`` (Tensor): ``(R, D)`` region means, in ``features``' dtype.
        - ``batch_index`` (Tensor): ``(R,)`` long, the image of each region.
        - ``region_id`` (Tensor): ``(R,)`` long, its id in ``segments``.
    """
    batch, dim, height, width = features.shape
    if segments.shape != (batch, height, width):
        raise ValueError(f'segment_mean_pool: segments must be {(batch, height, width)}, '
                         f'got {tuple(segments.shape)}')
    compact, batch_index, region_id = compact_region_ids(segments.to(features.device),
                                                         ignore_index)
    compact = compact.flatten()
    valid = compact >= 0
    pixels = features.permute(0, 2, 3, 1).reshape(-1, dim)[valid].float()
    index = compact[valid]
    num_regions = batch_index.numel()
    sums = pixels.new_zeros(num_regions, dim).index_add(0, index, pixels)
    counts = torch.bincount(index, minlength=num_regions).clamp(min=1)
    pooled = sums / counts[:, None].to(sums.dtype)
    return pooled.to(features.dtype), batch_index, region_id
