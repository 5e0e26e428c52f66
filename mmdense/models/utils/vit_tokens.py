# Copyright (c) mmdense contributors. All rights reserved.
"""ViT token <-> feature-map reshaping and patch positions in the image.

Small hand-written helpers: mmpretrain reshapes tokens inside each backbone
(``out_type='featmap'``) but exposes no function for it, and nothing upstream
maps patch centres of an augmented (cropped, flipped) view back to the
original image, which CrOC's positional cost needs.
"""
import math
from typing import Optional, Tuple

import torch


def tokens_to_map(tokens: torch.Tensor,
                  hw: Optional[Tuple[int, int]] = None,
                  num_extra_tokens: int = 1) -> torch.Tensor:
    """Drop the leading extra tokens and fold the patch tokens into a map.

    Args:
        tokens (Tensor): ``(B, E + N, C)`` with ``E = num_extra_tokens``
            ([CLS], registers) first, patches in row-major order.
        hw (tuple, optional): patch grid ``(h, w)`` with ``h * w = N``;
            square by default.
        num_extra_tokens (int): E (1 for [CLS], 0 for patch tokens only).

    Returns:
        Tensor: ``(B, C, h, w)`` (contiguous).
    """
    patches = tokens[:, num_extra_tokens:]
    batch, num, channels = patches.shape
    if hw is None:
        side = math.isqrt(num)
        hw = (side, side)
    height, width = hw
    if height * width != num:
        raise ValueError(f'tokens_to_map: {num} patch tokens do not fill a {height}x{width} '
                         f'grid (num_extra_tokens={num_extra_tokens})')
    return patches.transpose(1, 2).reshape(batch, channels, height, width).contiguous()


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """Unfold a feature map into row-major tokens (inverse of :func:`tokens_to_map`).

    Args:
        x (Tensor): ``(B, C, h, w)``.

    Returns:
        Tensor: ``(B, h * w, C)``.
    """
    return x.flatten(2).transpose(1, 2)


def patch_centers(view_crops: torch.Tensor, flips: torch.Tensor,
                  grid: Tuple[int, int]) -> torch.Tensor:
    """Centre of every patch of a view, in original-image pixels.

    The view shows the crop ``(x1, y1, x2, y2)`` (continuous pixel-edge
    coordinates, as :class:`TwoViewRandomResizedCrop` records it:
    ``img[y1:y2, x1:x2]``) resized to the view, then mirrored when flipped.
    Patch ``(i, j)`` of an ``h x w`` grid covers the view fraction
    ``[j / w, (j + 1) / w]``; its centre, which is also the mean position of
    its pixels, maps to ``x = x1 + (j + 0.5) / w * (x2 - x1)``, or
    ``x = x2 - (j + 0.5) / w * (x2 - x1)`` for a flipped view (whose column 0
    is the crop's right edge), and ``y = y1 + (i + 0.5) / h * (y2 - y1)``.

    Args:
        view_crops (Tensor): ``(B, 4)`` crops in original-image pixels
            ``(x1, y1, x2, y2)``, before flipping.
        flips (Tensor): ``(B,)`` bool, whether each view was mirrored.
        grid (tuple): patch grid ``(h, w)``.

    Returns:
        Tensor: ``(B, h * w, 2)`` ``(x, y)`` per patch, row-major like
        :func:`map_to_tokens`; floating dtype of ``view_crops`` (float32 for
        integer crops).
    """
    crops = view_crops if view_crops.is_floating_point() else view_crops.float()
    height, width = grid
    frac_x = (torch.arange(width, device=crops.device, dtype=crops.dtype) + 0.5) / width
    frac_y = (torch.arange(height, device=crops.device, dtype=crops.dtype) + 0.5) / height
    flips = flips.to(device=crops.device, dtype=torch.bool)[:, None]
    frac_x = torch.where(flips, 1. - frac_x, frac_x)  # (B, w)
    x1, y1, x2, y2 = crops.unbind(dim=1)
    xs = x1[:, None] + frac_x * (x2 - x1)[:, None]  # (B, w)
    ys = y1[:, None] + frac_y * (y2 - y1)[:, None]  # (B, h)
    batch = crops.shape[0]
    return torch.stack([xs[:, None, :].expand(batch, height, width),
                        ys[:, :, None].expand(batch, height, width)],
                       dim=-1).reshape(batch, height * width, 2)
