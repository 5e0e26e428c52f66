# Copyright (c) mmdense contributors. All rights reserved.
"""Inverse augmentation: bring two views' dense maps onto their common region."""
from typing import Tuple

import torch
from torchvision.ops import roi_align


def inverse_augment(maps: torch.Tensor,
                    boxes: torch.Tensor,
                    flips: torch.Tensor,
                    output_size: Tuple[int, int] = None,
                    sampling_ratio: int = -1) -> torch.Tensor:
    """Resample each map on its view's part of the views' intersection.

    The box of each sample is the intersection of the two crops, expressed in
    that view's own normalised frame *after* its flip (what
    :class:`TwoViewRandomResizedCrop` records). RoIAlign (``aligned=True``,
    torchvision's op, CPU and CUDA) cuts that region out of the map; flipped
    samples are then mirrored back, so the outputs of both views cover the same
    region of the original image in the same orientation.

    Args:
        maps (Tensor): ``(B, C, H, W)`` dense maps of one view.
        boxes (Tensor): ``(B, 4)`` normalised ``(x1, y1, x2, y2)``.
        flips (Tensor): ``(B,)`` bool, whether the view was mirrored.
        output_size (tuple, optional): ``(h, w)`` of the output; defaults to
            ``(H, W)``.
        sampling_ratio (int): RoIAlign samples per bin (-1: adaptive).

    Returns:
        Tensor: ``(B, C, h, w)`` aligned maps, in ``maps``' dtype.
    """
    batch, _, height, width = maps.shape
    output_size = output_size or (height, width)
    scale = boxes.new_tensor([width, height, width, height])
    rois = torch.cat([torch.arange(batch, device=maps.device, dtype=boxes.dtype)[:, None],
                      boxes.to(maps.device) * scale], dim=1)
    # RoIAlign in fp32: half/bf16 support differs between devices and the maps are small.
    aligned = roi_align(maps.float(), rois.float(), output_size, spatial_scale=1.0,
                        sampling_ratio=sampling_ratio, aligned=True)
    flips = flips.to(device=maps.device, dtype=torch.bool)
    aligned = torch.where(flips[:, None, None, None], aligned.flip(-1), aligned)
    return aligned.to(maps.dtype)
