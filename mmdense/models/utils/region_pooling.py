# Copyright (c) mmdense contributors. All rights reserved.
"""Pooling dense features into region / slot vectors.

``segment_mean_pool`` / ``compact_region_ids`` are hand-written on
``scatter_add_`` and ``bincount``: torch-scatter is not a dependency and
mmcv / mmseg have no batched hard-segment mean with a variable number of
regions per image.
"""
from typing import Tuple

import torch
import torch.nn.functional as F


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
    + 1), and the keys are turned into
    ids ``0 .. R-1``, sorted by image then by original id (a presence table
    and its running count; ``torch.unique`` when the ids are too sparse for
    a table). Ids that do not
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
    num_keys = segments.shape[0] * stride
    if num_keys > 4 * segments.numel() + (1 << 20):  # sparse ids (e.g. 32-bit labels): sort
        unique_keys, inverse = torch.unique(keys[valid], return_inverse=True)
        compact = torch.full_like(segments, -1)
        compact[valid] = inverse
        return compact, unique_keys // stride, unique_keys % stride
    # dense ids (superpixels, objects): a presence table and its running count number the
    # keys in sorted order in O(N), the same numbering as torch.unique's sort
    present = torch.zeros(num_keys, dtype=torch.bool, device=segments.device)
    present[keys[valid]] = True
    unique_keys = present.nonzero().flatten()
    number = present.long().cumsum(0) - 1
    compact = torch.where(valid, number[keys], torch.full_like(keys, -1))
    return compact, unique_keys // stride, unique_keys % stride


def _image_slots(compact: torch.Tensor, batch_index: torch.Tensor,
                 batch: int) -> Tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]:
    """Per-image slots of the compact region ids, for a batched scatter.

    Args:
        compact (Tensor): ``(B, H, W)`` ids from :func:`compact_region_ids`.
        batch_index (Tensor): ``(R,)`` the image of each region.
        batch (int): B.

    Returns:
        tuple: ``local`` ``(B, H, W)``: each pixel's region as a slot
        ``0 .. S_b - 1`` of its image (``slots`` where ignored, a dummy slot);
        ``slots`` = S_max; ``slot_of`` ``(R,)``: each region's slot;
        ``counts`` ``(R,)``: its pixel count (at least 1).
    """
    num_regions = batch_index.numel()
    per_image = torch.bincount(batch_index, minlength=batch)
    first = per_image.cumsum(0) - per_image  # global id of each image's first region
    slots = int(per_image.max()) if num_regions else 0
    local = torch.where(compact >= 0, compact - first.view(batch, 1, 1),
                        torch.full_like(compact, slots))
    slot_of = torch.arange(num_regions, device=compact.device) - first[batch_index]
    counts = torch.bincount(compact[compact >= 0], minlength=num_regions).clamp(min=1)
    return local, slots, slot_of, counts


def segment_mean_pool(features: torch.Tensor,
                      segments: torch.Tensor,
                      ignore_index: int = -1) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean feature of every (image, region) pair, in one scatter reduction.

    The pixels of the whole batch are summed into their region with one
    ``scatter_add_`` along the pixel axis (ids made consecutive over the batch
    by :func:`compact_region_ids`, then local to each image) and divided by
    the pixel counts; there is no loop over images or regions, and the
    features are read in place (5x faster forward + backward than gathering
    them pixel-major, 20 x 128 x 320 x 320 features on 2 cores). Regions absent from an image are not
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
    # per-image slots, so the sums are one scatter_add along the pixel axis of the
    # (B, D, H*W) features as they lie: no transposed copy of the features, no masked
    # copy, and the same order of additions
    local, slots, slot_of, counts = _image_slots(compact, batch_index, batch)
    local = local.reshape(batch, 1, height * width)
    pixels = features.reshape(batch, dim, height * width).float()
    sums = pixels.new_zeros(batch, dim, slots + 1).scatter_add_(
        2, local.expand(batch, dim, height * width), pixels)
    sums = sums[batch_index, :, slot_of]  # (R, D)
    pooled = sums / counts[:, None].to(sums.dtype)
    return pooled.to(features.dtype), batch_index, region_id


def _bilinear_taps(in_size: int, out_size: int,
                   device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source rows of ``F.interpolate(mode='bilinear', align_corners=False)`` on one axis.

    Returns:
        tuple: ``(first, second, weight_second)``, each ``(out_size,)``: output
        ``i`` is ``(1 - w) * x[first] + w * x[second]`` (``second == first``
        on the last row).
    """
    scale = in_size / out_size
    src = ((torch.arange(out_size, device=device, dtype=torch.float32) + 0.5) * scale -
           0.5).clamp(min=0.)
    first = src.long().clamp(max=in_size - 1)
    second = (first + 1).clamp(max=in_size - 1)
    return first, second, src - first.float()


def upsampled_unit_mean_pool(
        features: torch.Tensor,
        segments: torch.Tensor,
        ignore_index: int = -1) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Region means of the unit-norm bilinear upsampling of ``features``, at low resolution.

    Equals ``segment_mean_pool(F.normalize(F.interpolate(features, size=(H, W),
    mode='bilinear', align_corners=False), dim=1), segments)`` up to float
    rounding, without the ``(B, D, H, W)`` upsampled map, its normalised copy
    and their gradients (ViCE's 320 px views: 1 GiB each per step). Every
    upsampled pixel is a 4-tap mix ``u = sum_k a_k e_k`` of low-resolution
    vectors, so (1) its norm is ``sqrt(sum_kl a_k a_l <e_k, e_l>)``, read from six
    scalar maps of neighbour dot products, and (2) a region's sum of
    ``u / |u|`` is ``sum_q A[r, q] e_q`` with scalar weights ``A[r, q] =
    sum_{p in r} a_q(p) / |u(p)|`` gathered at full resolution (scalars, not
    D-vectors), then one batched product with the features. Hand-written:
    no library fuses interpolation, normalisation and segment pooling.

    Args:
        features (Tensor): ``(B, D, h, w)`` features, not normalised.
        segments (Tensor): ``(B, H, W)`` integer region ids at the output
            resolution; negative values and ``ignore_index`` belong to no region.
        ignore_index (int): label of pixels that belong to no region.

    Returns:
        tuple: as :func:`segment_mean_pool`: ``pooled`` ``(R, D)`` (in
        ``features``' dtype), ``batch_index`` ``(R,)``, ``region_id`` ``(R,)``.
    """
    batch = features.shape[0]
    if segments.dim() != 3 or segments.shape[0] != batch:
        raise ValueError(f'upsampled_unit_mean_pool: segments must be (B={batch}, H, W), '
                         f'got {tuple(segments.shape)}')
    # sums in float32 (as segment_mean_pool), the norms in float64, whatever the autocast
    with torch.autocast(device_type=features.device.type, enabled=False):
        return _upsampled_unit_mean_pool(features, segments, ignore_index)


def _upsampled_unit_mean_pool(
        features: torch.Tensor, segments: torch.Tensor,
        ignore_index: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    batch, dim, low_h, low_w = features.shape
    height, width = segments.shape[-2:]
    device = features.device
    feats = features.float()
    compact, batch_index, region_id = compact_region_ids(segments.to(device), ignore_index)
    num_regions = batch_index.numel()
    if num_regions == 0:
        return feats.new_zeros(0, dim).to(features.dtype), batch_index, region_id

    rows0, rows1, wy = _bilinear_taps(low_h, height, device)
    cols0, cols1, wx = _bilinear_taps(low_w, width, device)
    wy, wx = wy[None, :, None].double(), wx[None, None, :].double()
    a00, a01, a10, a11 = (1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx  # (1, H, W)

    # |u|^2 = sum_kl a_k a_l <e_k, e_l>: on the grid padded by its last row / column (the
    # second tap of the last row is the row itself), the taps of an output pixel are
    # (i, j), (i, j+1), (i+1, j), (i+1, j+1) with (i, j) = (rows0, cols0)
    # in float64: |u| may be orders of magnitude below its taps' norms (opposite neighbours),
    # where the expanded float32 sum would cancel to ~0 and one pixel's 1 / |u| explode
    padded = F.pad(features.double(), (0, 1, 0, 1), mode='replicate')  # (B, D, h + 1, w + 1)
    self_dot = padded.square().sum(1)  # (B, h + 1, w + 1)
    right = (padded[..., :-1] * padded[..., 1:]).sum(1)  # <e(i, j), e(i, j+1)>
    down = (padded[:, :, :-1] * padded[:, :, 1:]).sum(1)  # <e(i, j), e(i+1, j)>
    diag = (padded[:, :, :-1, :-1] * padded[:, :, 1:, 1:]).sum(1)  # <e(i, j), e(i+1, j+1)>
    anti = (padded[:, :, :-1, 1:] * padded[:, :, 1:, :-1]).sum(1)  # <e(i, j+1), e(i+1, j)>

    def at(grid: torch.Tensor, drow: int, dcol: int) -> torch.Tensor:
        """``grid[b, rows0 + drow, cols0 + dcol]`` as ``(B, H, W)``."""
        return grid.index_select(1, rows0 + drow).index_select(2, cols0 + dcol)

    norm2 = (a00.square() * at(self_dot, 0, 0) + a01.square() * at(self_dot, 0, 1) +
             a10.square() * at(self_dot, 1, 0) + a11.square() * at(self_dot, 1, 1) +
             2 * (a00 * a01 * at(right, 0, 0) + a10 * a11 * at(right, 1, 0) +
                  a00 * a10 * at(down, 0, 0) + a01 * a11 * at(down, 0, 1) +
                  a00 * a11 * at(diag, 0, 0) + a01 * a10 * at(anti, 0, 0)))
    # F.normalize's max(|u|, 1e-12)
    inv_norm = norm2.clamp(min=0.).sqrt().clamp(min=1e-12).reciprocal().float()  # (B, H, W)

    # weights[b, slot, q] = sum over the slot's pixels p of a_q(p) / |u(p)|, one scatter per tap
    local, slots, slot_of, counts = _image_slots(compact, batch_index, batch)
    cells = low_h * low_w
    weights = feats.new_zeros(batch, (slots + 1) * cells)
    for rows, cols, tap_weight in ((rows0, cols0, a00), (rows0, cols1, a01),
                                   (rows1, cols0, a10), (rows1, cols1, a11)):
        cell = rows[:, None] * low_w + cols[None, :]  # (H, W) low-res index of the tap
        weights.scatter_add_(1, (local * cells + cell).reshape(batch, -1),
                             (tap_weight.float() * inv_norm).reshape(batch, -1))
    weights = weights.view(batch, slots + 1, cells)[:, :slots]
    sums = torch.bmm(weights, feats.reshape(batch, dim, cells).transpose(1, 2))  # (B, S, D)
    sums = sums[batch_index, slot_of]
    pooled = sums / counts[:, None].to(sums.dtype)
    return pooled.to(features.dtype), batch_index, region_id
