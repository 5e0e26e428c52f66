# Copyright (c) mmdense contributors. All rights reserved.
"""DeepLab-v3's ASPP decoder as a neck: mmseg's ``ASPPHead`` without its classifier."""
from typing import List, Sequence, Tuple, Union

import torch
from mmseg.models.decode_heads import ASPPHead

from mmdense.registry import MODELS


@MODELS.register_module()
class ASPPNeck(ASPPHead):
    """mmseg's DeepLab-v3 ASPP head, returning its decoder features.

    Image pooling + parallel atrous 3x3 convolutions (``dilations``) + a 3x3
    bottleneck to ``channels`` (mmseg's ``ASPPHead._forward_feature``); the
    per-class 1x1 classifier, its dropout and mmseg's decode loss are
    removed, so the output is the dense decoder map a method puts its own
    1x1 heads on (MaskContrast: embedding + saliency), and a supervised
    DeepLab-v3 head initialised from it loads the same keys.

    Args:
        in_channels (int): channels of the backbone's last output (2048 for
            a ResNet-50).
        channels (int): decoder channels (256).
        dilations (Sequence[int]): ASPP rates (1, 12, 24, 36 at output
            stride 8; mmseg's default (1, 6, 12, 18) is for stride 16).
        norm_cfg (dict): normalisation (``BN``; ``SyncBN`` on GPUs).
        frozen (bool): no parameter trains and the BatchNorm layers stay in
            eval mode (their running statistics are the pre-trained ones):
            the linear classifier protocol on frozen decoder features, in
            an mmseg ``EncoderDecoder`` (``neck=dict(type='mmdense.ASPPNeck',
            frozen=True, ...)``). Defaults to False.
        **kwargs: other ``BaseDecodeHead`` arguments (``in_index``,
            ``align_corners``, ``init_cfg`` ...).
    """

    def __init__(self,
                 in_channels: int = 2048,
                 channels: int = 256,
                 dilations: Sequence[int] = (1, 12, 24, 36),
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 frozen: bool = False,
                 **kwargs) -> None:
        kwargs.setdefault('in_index', -1)
        kwargs.setdefault('init_cfg', None)  # mmseg's default initialises conv_seg only
        # num_classes / loss_decode: placeholders for BaseDecodeHead, deleted below
        super().__init__(dilations=tuple(dilations), in_channels=in_channels, channels=channels,
                         num_classes=2, dropout_ratio=0., norm_cfg=norm_cfg,
                         loss_decode=dict(type='mmseg.CrossEntropyLoss', avg_non_ignore=True),
                         **kwargs)
        # the classifier and the decode loss belong to a supervised head
        del self.conv_seg, self.loss_decode
        self.dropout = None
        self.frozen = bool(frozen)
        if self.frozen:
            self.requires_grad_(False)

    def train(self, mode: bool = True) -> 'ASPPNeck':
        """Train mode, except that a frozen neck stays in eval mode."""
        return super().train(mode and not self.frozen)

    def forward(self, inputs: Union[torch.Tensor, List[torch.Tensor]]) -> Tuple[torch.Tensor]:
        """Decoder features, as a one-element tuple (the OpenMMLab neck
        convention: an mmseg decode head after it indexes the tuple with its
        ``in_index``, 0 or -1).

        Args:
            inputs (Tensor | list[Tensor]): the backbone's outputs; the one at
                ``in_index`` (default: the last) is ``(B, in_channels, h, w)``.

        Returns:
            tuple[Tensor]: ``((B, channels, h, w), )``.
        """
        if isinstance(inputs, torch.Tensor):
            inputs = [inputs]
        return (self._forward_feature(list(inputs)), )
