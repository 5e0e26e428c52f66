# Copyright (c) mmdense contributors. All rights reserved.
"""A FIFO feature queue (MoCo-style memory bank).

Hand-written: mmpretrain keeps its queues inline in each algorithm (MoCo,
DenseCL, SwAV's loss) with the assumption that the batch size divides the
queue length; mmdense needs one queue that takes any batch size (ViCE's
region count changes every step), knows how much of it is filled, and
declares its state for the skipped-step rollback.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .dist import concat_all_gather


class MomentumQueue(nn.Module):
    """Fixed-length first-in-first-out queue of feature vectors.

    Used for MaskContrast's key prototypes and ViCE's score queue (5000
    entries). ``enqueue`` writes at ``ptr`` and wraps around; when more
    entries arrive than fit, only the newest ``length`` are kept, and ``ptr``
    moves as if all had been written one by one. The update is made of tensor
    operations only (no host synchronisation).

    Buffers (checkpointed, and restored on a skipped step, see
    ``rollback_buffers``): ``queue`` ``(length, dim)``, ``ptr`` (long scalar,
    the next slot to write) and ``num_filled`` (long scalar, slots holding a
    real entry, at most ``length``).

    Args:
        length (int): number of entries (e.g. 5000 for ViCE, 128 / 256 for
            MaskContrast).
        dim (int): feature dimension.
        normalize (bool): L2-normalise entries as they are enqueued (and the
            random initial entries).
        distributed (bool): by default, gather the batch from all ranks
            (:func:`concat_all_gather`, rank order) before enqueueing; a
            local queue (SwAV/ViCE) sets False.
        init_random (bool): start with ``randn`` entries counted as filled
            (the official MoCo / MaskContrast queue); by default the queue
            starts empty.
    """

    rollback_buffers = ('queue', 'ptr', 'num_filled')

    def __init__(self,
                 length: int,
                 dim: int,
                 normalize: bool = False,
                 distributed: bool = True,
                 init_random: bool = False) -> None:
        super().__init__()
        if length < 1 or dim < 1:
            raise ValueError(f'MomentumQueue: length and dim must be >= 1, got {length}, {dim}')
        self.length = int(length)
        self.dim = int(dim)
        self.normalize = normalize
        self.distributed = distributed
        queue = torch.randn(length, dim) if init_random else torch.zeros(length, dim)
        if init_random and normalize:
            queue = F.normalize(queue, dim=1)
        self.register_buffer('queue', queue)
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('num_filled',
                             torch.tensor(length if init_random else 0, dtype=torch.long))

    @property
    def full(self) -> bool:
        """Whether every slot holds an enqueued (or initial random) entry."""
        return int(self.num_filled) >= self.length

    def __len__(self) -> int:
        return int(self.num_filled)

    @torch.no_grad()
    def enqueue(self, x: torch.Tensor, gather: Optional[bool] = None) -> None:
        """Append a batch, dropping the oldest entries.

        Args:
            x (Tensor): ``(B, dim)``; any ``B >= 0``, also ``B >= length``.
            gather (bool, optional): override ``distributed`` for this call.
        """
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f'MomentumQueue: expected (B, {self.dim}), got {tuple(x.shape)}')
        if self.distributed if gather is None else gather:
            x = concat_all_gather(x)
        x = x.detach().to(device=self.queue.device, dtype=self.queue.dtype)
        if self.normalize:
            x = F.normalize(x, dim=1)
        num_new = x.shape[0]
        if num_new == 0:
            return
        kept = min(num_new, self.length)  # the newest ``length`` entries survive
        offsets = torch.arange(num_new - kept, num_new, device=x.device)
        slots = (self.ptr + offsets) % self.length
        self.queue.index_copy_(0, slots, x[num_new - kept:])
        self.ptr.copy_((self.ptr + num_new) % self.length)
        self.num_filled.copy_((self.num_filled + num_new).clamp(max=self.length))

    def valid(self) -> torch.Tensor:
        """Which slots hold an entry (fixed shape, no host sync).

        Returns:
            Tensor: ``(length,)`` bool.
        """
        return torch.arange(self.length, device=self.queue.device) < self.num_filled

    def get(self, ordered: bool = False) -> torch.Tensor:
        """The filled entries.

        Args:
            ordered (bool): oldest first (a copy); by default storage order
                (a view when the queue is full or has never wrapped).

        Returns:
            Tensor: ``(num_filled, dim)``.
        """
        filled = int(self.num_filled)
        if filled < self.length:  # never wrapped: slots 0..filled-1, in order
            return self.queue[:filled]
        if not ordered:
            return self.queue
        return torch.roll(self.queue, shifts=-int(self.ptr), dims=0)

    def reset(self) -> None:
        """Empty the queue (entries zeroed, pointer and count reset)."""
        self.queue.zero_()
        self.ptr.zero_()
        self.num_filled.zero_()

    def extra_repr(self) -> str:
        return (f'length={self.length}, dim={self.dim}, normalize={self.normalize}, '
                f'distributed={self.distributed}')
