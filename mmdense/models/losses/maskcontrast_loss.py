# Copyright (c) mmdense contributors. All rights reserved.
"""MaskContrast's two objectives: pixel-to-object-prototype contrast and the
(balanced) binary cross-entropy of the saliency head.

Van Gansbeke et al., "Unsupervised Semantic Segmentation by Contrasting Object
Mask Proposals", ICCV 2021 (SPEC §4).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmdense.models.utils import all_reduce_sum, concat_all_gather, rank_and_world
from mmdense.registry import MODELS


@MODELS.register_module()
class PixelPrototypeContrastLoss(BaseModule):
    """Cross-entropy of salient query pixels against object prototypes.

    For every salient query pixel ``i`` with embedding ``z_i`` and its own
    object's key prototype ``p_own``::

        L_i = -log exp(z_i . p_own / T) / sum_p exp(z_i . p / T)

    where ``p`` runs over the prototypes of the whole batch on **all ranks**
    (gathered, so that N processes compute what one process computes on the
    concatenated batch) and the valid entries of the memory queue. Pixels
    whose own prototype is missing (their object left the key view) are
    ignored. The result is the mean over the valid pixels of all ranks,
    times the world size (DDP averages the ranks' gradients).

    Written by hand: mmpretrain's contrastive losses (``CrossCorrelationLoss``,
    ``ContrastiveLoss``) take one positive logit per sample, not a
    prototype table with per-pixel targets, a validity mask and a queue.

    Args:
        temperature (float): T (0.5, paper and official code).
        loss_weight (float): factor on the loss. Defaults to 1.
    """

    def __init__(self, temperature: float = 0.5, loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'PixelPrototypeContrastLoss: temperature must be > 0, '
                             f'got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self,
                query: torch.Tensor,
                target: torch.Tensor,
                prototypes: torch.Tensor,
                prototype_valid: torch.Tensor,
                queue: Optional[torch.Tensor] = None,
                queue_valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Loss of one step on this rank.

        Args:
            query (Tensor): ``(N, D)`` L2-normalised embeddings of this rank's
                salient query pixels.
            target (Tensor): ``(N,)`` long, each pixel's own prototype, an
                index into this rank's ``prototypes``.
            prototypes (Tensor): ``(P, D)`` L2-normalised key prototypes of
                this rank (same ``P`` on every rank; no gradient).
            prototype_valid (Tensor): ``(P,)`` bool, prototypes that exist.
            queue (Tensor, optional): ``(Q, D)`` queued prototypes.
            queue_valid (Tensor, optional): ``(Q,)`` bool, filled entries.

        Returns:
            Tensor: scalar loss.
        """
        rank, world = rank_and_world()
        all_protos = concat_all_gather(prototypes.detach())
        all_valid = concat_all_gather(prototype_valid)
        keep = prototype_valid[target]  # the pixel's object is in the key view
        query, target = query[keep], target[keep] + rank * prototypes.shape[0]
        negatives, neg_valid = all_protos, all_valid
        if queue is not None:
            negatives = torch.cat([all_protos, queue.detach().to(all_protos.dtype)])
            if queue_valid is None:
                queue_valid = torch.ones(queue.shape[0], dtype=torch.bool, device=queue.device)
            neg_valid = torch.cat([all_valid, queue_valid])
        logits = query.float() @ negatives.float().t() / self.temperature
        logits = logits.masked_fill(~neg_valid[None], float('-inf'))
        ce_sum = F.cross_entropy(logits, target, reduction='sum')
        count = all_reduce_sum(torch.tensor(float(target.numel()), device=query.device))
        return ce_sum * world / count.clamp(min=1.) * self.loss_weight


@MODELS.register_module()
class SaliencyBCELoss(BaseModule):
    """Binary cross-entropy of saliency logits, optionally class-balanced.

    ``balanced=False`` (paper): the mean BCE over pixels. ``balanced=True``
    (released code): with ``w`` the fraction of *background* pixels of the
    batch, positive pixels weigh ``w`` and negative ones ``1 - w``, summed
    and divided by the number of pixels (so the rarer class counts more).

    mmseg's ``CrossEntropyLoss(use_sigmoid=True)`` has a fixed
    ``pos_weight`` / class weight, not one recomputed from each batch.

    Args:
        balanced (bool): positive-fraction weighting. Defaults to True.
        loss_weight (float): factor on the loss. Defaults to 1.
    """

    def __init__(self, balanced: bool = True, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.balanced = balanced
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of saliency logits against binary masks.

        Args:
            logits (Tensor): ``(B, H, W)`` (or any shape) saliency logits.
            target (Tensor): same shape, bool / {0, 1} masks.

        Returns:
            Tensor: scalar loss (the mean over this rank's pixels).
        """
        target = target.to(logits.dtype)
        weight = None
        if self.balanced:
            w_pos = 1. - target.mean()  # fraction of background pixels
            weight = torch.where(target > 0.5, w_pos, 1. - w_pos).detach()
        loss = F.binary_cross_entropy_with_logits(logits.float(), target.float(),
                                                  weight=weight, reduction='mean')
        return loss * self.loss_weight
