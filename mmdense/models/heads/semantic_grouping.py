# Copyright (c) mmdense contributors. All rights reserved.
"""Learnable prototypes that group dense features into slots (SlotCon)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmdense.models.utils import soft_region_pool
from mmdense.registry import MODELS


@MODELS.register_module()
class SemanticGrouping(BaseModule):
    """Prototype scores and soft-assignment slot pooling.

    ``dots = cos(S_k, z_hw)`` for prototypes ``S`` (K x D, N(0, 1) init); the
    assignment ``A = softmax_K(dots / temperature) + eps`` pools the
    *un-normalised* features into one slot per prototype.

    Args:
        num_prototypes (int): K (256 on COCO, 2048 on ImageNet, 27 for the
            COCO-Stuff unsupervised-segmentation model).
        dim (int): feature dimension D.
        temperature (float): assignment temperature (0.07).
        eps (float): added to the assignment so every slot has mass (1e-6).
    """

    def __init__(self,
                 num_prototypes: int = 256,
                 dim: int = 256,
                 temperature: float = 0.07,
                 eps: float = 1e-6,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_prototypes < 2:
            raise ValueError(f'SemanticGrouping: num_prototypes must be >= 2, got {num_prototypes}')
        self.num_prototypes = num_prototypes
        self.temperature = temperature
        self.eps = eps
        self.prototypes = nn.Parameter(torch.randn(num_prototypes, dim))

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            nn.init.normal_(self.prototypes)

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of each pixel to each prototype.

        Args:
            features (Tensor): ``(B, D, H, W)``.

        Returns:
            Tensor: ``(B, K, H, W)`` in ``[-1, 1]``.
        """
        protos = F.normalize(self.prototypes, dim=1)
        return torch.einsum('kd,bdhw->bkhw', protos.to(features.dtype), F.normalize(features, dim=1))

    def forward(self, features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Score the pixels and pool one slot per prototype.

        Args:
            features (Tensor): ``(B, D, H, W)`` projected features.

        Returns:
            tuple: ``slots`` ``(B, K, D)`` and ``dots`` ``(B, K, H, W)``.
        """
        dots = self.scores(features)
        assign = (dots / self.temperature).softmax(dim=1) + self.eps
        return soft_region_pool(features, assign), dots
