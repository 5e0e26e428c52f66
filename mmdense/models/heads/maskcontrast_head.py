# Copyright (c) mmdense contributors. All rights reserved.
"""MaskContrast's two 1x1 heads on the decoder: embedding and saliency."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmdense.registry import MODELS


@MODELS.register_module()
class EmbeddingSaliencyHead(BaseModule):
    """A 1x1 convolution to ``embed_dim + 1`` channels, split into a
    per-pixel embedding (L2-normalised) and a saliency logit.

    The released MaskContrast code uses one 1x1 convolution whose last
    channel is the saliency logit; this is that convolution. ``upsample``
    resizes both outputs bilinearly to the input image size before the
    embedding is normalised (the released code's order), else they stay at
    the decoder's resolution.

    Args:
        in_channels (int): decoder channels (256).
        embed_dim (int): D (32).
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self, in_channels: int = 256, embed_dim: int = 32, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.embed_dim = embed_dim
        self.conv = nn.Conv2d(in_channels, embed_dim + 1, kernel_size=1)

    def forward(self, feats: torch.Tensor,
                size: Tuple[int, int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and saliency logits.

        Args:
            feats (Tensor): ``(B, C, h, w)`` decoder features.
            size (tuple, optional): ``(H, W)`` to resize the outputs to
                (bilinear); None keeps ``(h, w)``.

        Returns:
            tuple: ``(B, D, H, W)`` L2-normalised embeddings and
            ``(B, H, W)`` saliency logits.
        """
        out = self.conv(feats)
        if size is not None and tuple(out.shape[-2:]) != tuple(size):
            out = F.interpolate(out, size=size, mode='bilinear', align_corners=False)
        embed, saliency = out[:, :self.embed_dim], out[:, self.embed_dim]
        return F.normalize(embed, dim=1), saliency
