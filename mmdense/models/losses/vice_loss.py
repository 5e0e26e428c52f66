# Copyright (c) mmdense contributors. All rights reserved.
"""ViCE's loss: SwAV swapped prediction over superpixel region means.

mmpretrain's ``SwAVLoss`` assumes one vector per crop, a batch size that
divides the queue and crops of fixed count; ViCE has a different number of
regions per image and view, so only the pieces are shared:
:func:`mmdense.models.utils.segment_mean_pool` (one scatter reduction for
all views of the batch; :func:`~mmdense.models.utils.upsampled_unit_mean_pool`
for the full-resolution embeddings, computed at the head's resolution),
:func:`mmdense.models.utils.sinkhorn_knopp` (SwAV's Sinkhorn, distributed) and
:class:`mmdense.models.utils.MomentumQueue`.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdense.models.utils import (MomentumQueue, all_reduce_sum, segment_mean_pool,
                                  sinkhorn_knopp, upsampled_unit_mean_pool)
from mmdense.registry import MODELS


def mutual_at_resolution(regions: torch.Tensor, num_views: int) -> torch.Tensor:
    """Drop the regions that are missing from any view of their image.

    The pipeline keeps only regions present in all views at the view size
    (``MutualRegionFilter``); at the embedding's resolution a small region
    can vanish from a view, so the rule is applied again here.

    Args:
        regions (Tensor): ``(M * B, h, w)`` long region ids, view-major
            (views ``m`` of images ``b`` at row ``m * B + b``); ``< 0``: none.
        num_views (int): M.

    Returns:
        Tensor: ``(M * B, h, w)`` with every non-mutual region set to ``-1``.
    """
    views_batch = regions.shape[0]
    batch = views_batch // num_views
    size = int(regions.max().clamp(min=0)) + 1
    valid = regions >= 0
    ids = regions.clamp(min=0)
    rows = torch.arange(views_batch, device=regions.device)[:, None, None]
    presence = torch.zeros(views_batch, size, dtype=torch.bool, device=regions.device)
    presence[rows.expand_as(ids)[valid], ids[valid]] = True
    mutual = presence.view(num_views, batch, size).all(dim=0)  # (B, size)
    keep = mutual[rows % batch, ids]  # (M * B, h, w)
    return torch.where(valid & keep, regions, torch.full_like(regions, -1))


@MODELS.register_module()
class SwAVRegionLoss(nn.Module):
    """Swapped prediction of region assignments across M views (ViCE §3.3).

    For every image ``n`` and mutual region ``i``: ``z*_{i,m}`` is the mean of
    its pixel embeddings in view ``m`` (renormalised), ``s*_{i,m} = C z*_{i,m}``
    its prototype scores. Codes ``q_i`` come from the first view by Sinkhorn
    (``epsilon``, ``num_iters``; samples spread over all ranks), over this
    step's first-view regions plus, from ``queue_start_iter`` on, the queued
    first-view region embeddings of past steps (scored with the current
    prototypes, as SwAV does). The loss is

    ``L = -1 / (I (M - 1)) sum_i sum_{m >= 2} q_i . log softmax(s*_{i,m} / tau)``

    averaged over the regions of all ranks (each rank's sum is divided by
    the global count times the world size, so DDP's gradient mean gives the
    global mean). Prototypes receive no gradient for the first
    ``freeze_prototypes_iters`` steps (their update is then parallel to
    themselves and vanishes after renormalisation).

    The step counter is a buffer: checkpointed (exact resume) and restored
    with the queue on a skipped step.

    Args:
        temperature (float): tau (0.1).
        epsilon (float): Sinkhorn entropic temperature (0.05).
        num_iters (int): Sinkhorn iterations (3).
        queue_length (int): queued region embeddings per process (5000;
            0: no queue).
        queue_start_iter (int): first step whose codes use the queue (313).
        freeze_prototypes_iters (int): steps without prototype gradient (313).
        dim (int): D, the embedding dimension (for the queue).
    """

    rollback_buffers = ('step', )

    def __init__(self,
                 temperature: float = 0.1,
                 epsilon: float = 0.05,
                 num_iters: int = 3,
                 queue_length: int = 5000,
                 queue_start_iter: int = 313,
                 freeze_prototypes_iters: int = 313,
                 dim: int = 128) -> None:
        super().__init__()
        self.temperature = temperature
        self.epsilon = epsilon
        self.num_iters = num_iters
        self.queue_start_iter = queue_start_iter
        self.freeze_prototypes_iters = freeze_prototypes_iters
        self.queue = MomentumQueue(queue_length, dim, distributed=False) if queue_length else None
        self.register_buffer('step', torch.zeros((), dtype=torch.long))

    def schedule(self) -> Tuple[bool, bool]:
        """``(use_queue, prototypes_frozen)`` at the current step."""
        step = int(self.step)
        return step >= self.queue_start_iter, step < self.freeze_prototypes_iters

    def pool_regions(self, embeddings: torch.Tensor, regions: torch.Tensor, num_views: int,
                     upsample_to: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """Normalised region means of all views in one scatter reduction.

        Args:
            embeddings (Tensor): ``(M * B, D, h, w)`` view-major.
            regions (Tensor): ``(M * B, H, W)`` mutual region ids, resized here
                (nearest, pixel-centre aligned) to the pooling resolution.
            num_views (int): M.
            upsample_to (tuple, optional): pool at this ``(H', W')``:
                ``embeddings`` are then the head's raw map and the regions pool
                its bilinear upsampling, normalised per pixel
                (:func:`upsampled_unit_mean_pool`, computed at ``h x w``).
                None: pool the (unit-norm) ``embeddings`` at ``h x w``.

        Returns:
            Tensor: ``(M, R, D)`` unit-norm means; row ``r`` is the same
            (image, region) in every view.
        """
        size = tuple(upsample_to or embeddings.shape[-2:])
        if regions.shape[-2:] != size:
            regions = F.interpolate(regions[:, None].float(), size=size,
                                    mode='nearest-exact')[:, 0]
        regions = mutual_at_resolution(regions.long(), num_views)
        pool = segment_mean_pool if upsample_to is None else upsampled_unit_mean_pool
        pooled, _, _ = pool(embeddings, regions)
        return F.normalize(pooled.view(num_views, -1, embeddings.shape[1]), dim=-1)

    @torch.no_grad()
    def codes(self, scores: torch.Tensor, prototypes: torch.Tensor, use_queue: bool) -> torch.Tensor:
        """Sinkhorn codes ``(R, K)`` of the first view's ``(R, K)`` scores."""
        if use_queue and self.queue is not None and len(self.queue):
            queued = self.queue.queue[:len(self.queue)] @ prototypes.detach().t()
            scores = torch.cat([scores, queued])
        codes = sinkhorn_knopp(scores.detach(), num_iters=self.num_iters, epsilon=self.epsilon,
                               first='cols', return_assignments=True, distributed=True)
        return codes

    def forward(self, embeddings: torch.Tensor, regions: torch.Tensor,
                prototypes: torch.Tensor, num_views: int,
                upsample_to: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """ViCE's loss of one batch.

        Args:
            embeddings (Tensor): ``(M * B, D, h, w)`` unit-norm pixel
                embeddings, view-major.
            regions (Tensor): ``(M * B, H, W)`` mutual region ids.
            prototypes (Tensor): ``(K, D)`` unit-norm prototypes.
            num_views (int): M (>= 2).
            upsample_to (tuple, optional): see :meth:`pool_regions`
                (``embeddings`` are then the head's raw ``(M * B, D, h, w)`` map).

        Returns:
            Tensor: scalar loss.
        """
        use_queue, frozen = self.schedule()
        if self.training:
            self.step += 1
        if frozen:  # in the graph (DDP), but no gradient reaches them
            prototypes = prototypes.detach() + 0. * prototypes
        means = self.pool_regions(embeddings, regions, num_views, upsample_to)  # (M, R, D)
        num_regions = means.shape[1]
        scores = means @ prototypes.t()  # (M, R, K)
        codes = self.codes(scores[0], prototypes, use_queue)[:num_regions]
        log_probs = F.log_softmax(scores[1:] / self.temperature, dim=-1)
        total = -(codes[None] * log_probs).sum()
        count = all_reduce_sum(scores.new_tensor(float(num_regions * (num_views - 1))))
        world = all_reduce_sum(scores.new_ones(()))
        if self.training and self.queue is not None:
            self.queue.enqueue(means[0].detach())
        # keep the graph (and every parameter) alive when no process has a region
        return total * world / count.clamp(min=1.) + 0. * embeddings.sum()
