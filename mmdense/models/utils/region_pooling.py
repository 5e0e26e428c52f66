# Copyright (c) mmdense contributors. All rights reserved.
"""Pooling dense features into region / slot vectors."""
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
