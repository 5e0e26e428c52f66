# Copyright (c) mmdense contributors. All rights reserved.
"""mmpretrain's ViT, able to also hand out its last block's per-head q/k/v.

CrOC clusters the teacher's last-block queries, keys or values per head.
mmpretrain's ``VisionTransformer`` computes them inside
``layers[-1].attn.qkv`` and returns only the block outputs, so this thin
subclass reads them with a forward hook on that ``nn.Linear`` for the one
call that asks for them. Everything else (weights, key names, ``forward``)
is mmpretrain's: a checkpoint of it loads into a plain ``VisionTransformer``
and back. The ViT-S/16 linear probes (``configs/benchmarks/linear_seg_vit``)
build it too, for :meth:`init_weights`.
"""
from typing import Tuple

import torch
from mmengine.model.weight_init import initialize
from mmpretrain.models.backbones import VisionTransformer

from mmdense.registry import MODELS


@MODELS.register_module()
class QKVVisionTransformer(VisionTransformer):
    """``VisionTransformer`` with :meth:`forward_with_qkv`.

    Build it like mmpretrain's (``arch``, ``patch_size``, ``drop_path_rate``
    ...); ``out_type='raw'`` makes :meth:`forward_with_qkv` return all tokens.
    """

    def init_weights(self) -> None:
        """mmpretrain's initialisation, then a pretrained ``init_cfg`` last.

        mmengine applies an init of type exactly ``'Pretrained'`` after the
        children's own ``init_weights`` and mmpretrain then keeps the position
        embedding; any other pretrained type (``mmdense.StrictPretrained``,
        the downstream probes') would be applied first and then overwritten
        by the blocks' FFN init and a re-drawn position embedding. Here every
        ``*Pretrained`` init is loaded after everything else.
        """
        init_type = self.init_cfg.get('type', '') if isinstance(self.init_cfg, dict) else ''
        if not str(init_type).endswith('Pretrained'):
            super().init_weights()
            return
        pretrained, self.init_cfg = self.init_cfg, None
        try:
            super().init_weights()
        finally:
            self.init_cfg = pretrained
        initialize(self, pretrained)

    @property
    def num_heads(self) -> int:
        """Attention heads of the last block."""
        return self.layers[-1].attn.num_heads

    @property
    def patch_stride(self) -> Tuple[int, int]:
        """Pixels per patch ``(sy, sx)``."""
        stride = self.patch_embed.projection.stride
        return (stride, stride) if isinstance(stride, int) else tuple(stride)

    def patch_grid(self, image_size: Tuple[int, int]) -> Tuple[int, int]:
        """Patch grid ``(h, w)`` of an ``(H, W)`` input."""
        sy, sx = self.patch_stride
        return image_size[0] // sy, image_size[1] // sx

    def forward_with_qkv(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Last-layer tokens and the last block's per-head q/k/v.

        Args:
            x (Tensor): ``(B, 3, H, W)`` images.

        Returns:
            tuple: ``tokens`` ``(B, E + N, C)`` (the last output, with
            ``out_type='raw'``: [CLS] first, after the final norm) and
            ``qkv`` ``(3, B, heads, E + N, C / heads)`` (queries, keys,
            values of the last block, before attention).
        """
        captured = []
        attn = self.layers[-1].attn
        handle = attn.qkv.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            tokens = self(x)[-1]
        finally:
            handle.remove()
        qkv = captured[-1]
        batch, num, _ = qkv.shape
        qkv = qkv.reshape(batch, num, 3, attn.num_heads, attn.head_dims).permute(2, 0, 3, 1, 4)
        return tokens, qkv
