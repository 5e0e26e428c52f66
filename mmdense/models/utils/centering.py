# Copyright (c) mmdense contributors. All rights reserved.
"""DINO-style centring of teacher scores, for any ``(N, K, ...)`` layout.

DINO, SlotCon's grouping loss and CrOC's two heads all subtract a running
mean of the teacher's scores per output channel before sharpening them, so
that no channel dominates (collapse). mmpretrain 1.2 has no DINO loss and
hence no centre; this is the one implementation the methods share.
"""
from typing import Sequence, Union

import torch
import torch.nn as nn

from .dist import all_reduce_sum


class Centering(nn.Module):
    """A running centre ``c`` of ``K``-channel scores and its EMA update.

    ``c <- m c + (1 - m) mean(scores)``, the mean taken per channel over every
    other dimension (samples, pixels, ...) of every tensor given and, when
    ``distributed``, over all ranks (so N ranks equal one process on the
    concatenated batch).

    The centre is a buffer ``center`` of shape ``(1, K, 1, ..., 1)`` with
    ``score_ndim`` dimensions, so it broadcasts against the scores; it is the
    state a skipped training step restores (``rollback_buffers``).

    Args:
        num_channels (int): K.
        momentum (float): weight of the old centre ``m`` (0.9).
        score_ndim (int): number of dimensions of the scores: 2 for
            ``(N, K)`` vectors, 4 for ``(B, K, H, W)`` maps.
        distributed (bool): average over all ranks (falls back to the local
            mean in one process).
    """

    rollback_buffers = ('center', )

    def __init__(self,
                 num_channels: int,
                 momentum: float = 0.9,
                 score_ndim: int = 2,
                 distributed: bool = True) -> None:
        super().__init__()
        if num_channels < 1 or score_ndim < 2:
            raise ValueError(f'Centering: need num_channels >= 1 and score_ndim >= 2, '
                             f'got {num_channels} and {score_ndim}')
        if not 0. <= momentum <= 1.:
            raise ValueError(f'Centering: momentum must be in [0, 1], got {momentum}')
        self.center_momentum = momentum
        self.distributed = distributed
        self.register_buffer('center', torch.zeros((1, num_channels) + (1, ) * (score_ndim - 2)))

    def centre(self, scores: torch.Tensor) -> torch.Tensor:
        """``scores - c`` in float32 or wider.

        Args:
            scores (Tensor): ``(N, K, ...)`` with ``score_ndim`` dimensions.

        Returns:
            Tensor: same shape as ``scores``.
        """
        return scores.float() - self.center

    @torch.no_grad()
    def update_center(self, scores: Union[torch.Tensor, Sequence[torch.Tensor]]) -> None:
        """EMA of the per-channel mean of ``scores`` over samples and ranks.

        Args:
            scores (Tensor | list[Tensor]): ``(N, K, ...)`` tensors (e.g. the
                teacher's scores of each view); all enter one mean.
        """
        scores = [scores] if isinstance(scores, torch.Tensor) else list(scores)
        total = sum(s.float().sum(dim=[d for d in range(s.dim()) if d != 1]) for s in scores)
        count = sum(s.numel() // s.shape[1] for s in scores)
        stats = torch.cat([total, total.new_tensor([count])])
        if self.distributed:
            stats = all_reduce_sum(stats)
        batch_center = (stats[:-1] / stats[-1]).view_as(self.center)
        self.center.mul_(self.center_momentum).add_(batch_center, alpha=1 - self.center_momentum)
