# Copyright (c) mmdense contributors. All rights reserved.
"""Collective helpers that also run in a single process (and on CPU / gloo)."""
from typing import Tuple

import torch
from mmengine import dist


@torch.no_grad()
def concat_all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0, in rank order.

    No gradient flows through the result (keys/targets only). Every rank must
    pass a tensor of the same shape.

    Args:
        tensor (Tensor): ``(N, ...)`` on this rank.

    Returns:
        Tensor: ``(world_size * N, ...)``; ``tensor`` itself when not distributed.
    """
    if dist.get_world_size() == 1:
        return tensor
    return torch.cat(dist.all_gather(tensor.contiguous()), dim=0)


@torch.no_grad()
def all_reduce_max(tensor: torch.Tensor) -> torch.Tensor:
    """Element-wise max of ``tensor`` over ranks (a new tensor; identity in one process)."""
    if dist.get_world_size() == 1:
        return tensor
    out = tensor.clone()
    dist.all_reduce(out, op='max')
    return out


@torch.no_grad()
def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of ``tensor`` over ranks (a new tensor; identity in one process)."""
    if dist.get_world_size() == 1:
        return tensor
    out = tensor.clone()
    dist.all_reduce(out, op='sum')
    return out


def rank_and_world() -> Tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside distributed runs."""
    return dist.get_rank(), dist.get_world_size()
