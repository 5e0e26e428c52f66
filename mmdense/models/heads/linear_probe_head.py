# Copyright (c) mmdense contributors. All rights reserved.
"""A linear segmentation probe that reads the dense output at full resolution.

:class:`UpsampledLinearHead` is the ViCE-style variant of the linear probe
(``configs/benchmarks/linear_seg/linear-fullres_*``): the frozen model's dense
output is first upsampled (bilinearly) to the network's input resolution,
optionally L2-normalised per pixel, and only then classified by one 1x1
convolution, so the loss and the predictions are computed on full-resolution
logits. mmseg's usual probe (``FCNHead`` with ``num_convs=0``) classifies the
feature map at its own resolution and resizes the *logits* to the label size.

Equivalence worth knowing: bilinear upsampling and a 1x1 convolution are both
linear and the upsampling weights of every output pixel sum to one, so
without the per-pixel normalisation the two orders give the same logits (up to
float rounding; a test checks it). The order matters once a non-linearity sits
between them — ``normalize=True``, the unit-length embeddings a ViCE model
emits — and for the cost: the upsampled features are ``C x H x W`` per image
(2048 x 448 x 448 float32 = 1.6 GB for a ResNet-50 C5 at 448 px), which the
backward pass of the 1x1 convolution keeps.

It is registered in mmseg's ``MODELS`` registry (it is an mmseg decode head):
configs import this module through ``custom_imports``.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from torch import Tensor

from mmdense.registry import MODELS


def _target_size(batch_img_metas: Sequence[dict]) -> Tuple[int, int]:
    """The size mmseg's ``predict_by_feat`` resizes logits to (the padded
    batch input in 'whole' inference, the crop in 'slide' inference)."""
    meta = batch_img_metas[0]
    if isinstance(meta['img_shape'], torch.Size):
        size = meta['img_shape']
    elif 'pad_shape' in meta:
        size = meta['pad_shape'][:2]
    else:
        size = meta['img_shape'][:2]
    return int(size[0]), int(size[1])


@MODELS.register_module()
class UpsampledLinearHead(BaseDecodeHead):
    """One 1x1 conv on the dense features upsampled to the input resolution.

    ``forward(inputs, size)`` = ``conv_seg(normalize?(resize(x, size)))``;
    ``loss`` uses the size of the (padded) ground-truth batch, ``predict``
    the size mmseg's ``predict_by_feat`` resizes to, so the logits already
    have that size and mmseg's own resize is the identity.

    Args:
        in_channels (int): Channels of the selected input (``in_index``).
        channels (int): Must equal ``in_channels``: the probe has no
            projection, its only layer is ``conv_seg`` (channels -> classes).
        normalize (bool): L2-normalise every upsampled feature vector before
            the classifier (ViCE's embeddings are unit vectors). Defaults to
            False, in which case the logits equal those of
            ``FCNHead(num_convs=0)`` up to rounding (see the module doc).
        upsample_mode (str): ``'bilinear'`` (default) or ``'nearest'``.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``in_index``, ``dropout_ratio``, ``align_corners``,
            ``loss_decode`` ...). ``input_transform`` must stay None.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 normalize: bool = False,
                 upsample_mode: str = 'bilinear',
                 **kwargs) -> None:
        if kwargs.get('input_transform') is not None:
            raise ValueError('UpsampledLinearHead reads one feature map: '
                             'input_transform must be None')
        if in_channels != channels:
            raise ValueError(
                f'UpsampledLinearHead is a linear probe without projection: channels '
                f'({channels}) must equal in_channels ({in_channels})')
        if upsample_mode not in ('bilinear', 'nearest'):
            raise ValueError(f"upsample_mode must be 'bilinear' or 'nearest', got {upsample_mode!r}")
        super().__init__(in_channels, channels, **kwargs)
        self.normalize = bool(normalize)
        self.upsample_mode = upsample_mode

    def forward(self, inputs, size: Tuple[int, int] = None) -> Tensor:
        """Logits at ``size`` (default: the feature map's own size)."""
        x = self._transform_inputs(inputs)
        if size is not None and tuple(x.shape[-2:]) != tuple(size):
            align = self.align_corners if self.upsample_mode == 'bilinear' else None
            x = resize(x, size=tuple(size), mode=self.upsample_mode, align_corners=align)
        if self.normalize:
            x = F.normalize(x, dim=1)
        return self.cls_seg(x)

    def loss(self, inputs: Tuple[Tensor], batch_data_samples: list, train_cfg) -> dict:
        seg_label_size = tuple(batch_data_samples[0].gt_sem_seg.data.shape[-2:])
        return self.loss_by_feat(self.forward(inputs, seg_label_size), batch_data_samples)

    def predict(self, inputs: Tuple[Tensor], batch_img_metas: List[dict], test_cfg) -> Tensor:
        logits = self.forward(inputs, _target_size(batch_img_metas))
        return self.predict_by_feat(logits, batch_img_metas)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', normalize={self.normalize}, upsample={self.upsample_mode}'
