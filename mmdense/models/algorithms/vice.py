# Copyright (c) mmdense contributors. All rights reserved.
"""ViCE: SwAV over superpixel regions of M views, high-resolution embeddings.

Karlsson et al., "ViCE: Improving Dense Representation Learning by
Superpixelization and Contrasting Cluster Assignment", BMVC 2022. See
``docs/methods/vice.md``.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from mmdense.registry import MODELS
from .base import BaseDenseSelfSupervisor


@MODELS.register_module()
class ViCE(BaseDenseSelfSupervisor):
    """ViCE, without a teacher.

    Per step, the M views of each image (all the same size, see
    ``configs/_base_/pipelines/vice_views.py``) go through the network in one
    batch: backbone -> neck (FPN, or none) -> decode head (mmseg's
    ``FPNHead`` or ``DepthwiseSeparableASPPHead`` whose ``num_classes`` is
    the embedding dimension D: its 1 x 1 classifier is the embedding
    projection) -> bilinear upsampling to the view size (optional) -> L2
    normalisation per pixel. The loss (``swav_loss``) pools every mutual
    superpixel region of every view in one scatter reduction and predicts
    the first view's Sinkhorn codes from the other views' scores.

    Args:
        backbone (dict): encoder (mmpretrain ``ResNet`` with all four stages
            for FPN, or the dilated C5 for DeepLabV3+).
        neck (dict, optional): e.g. ``mmseg.FPN``.
        decode_head (dict): mmseg decode head, ``num_classes`` = D.
        prototypes (dict): ``NormalizedPrototypes`` (K, D).
        swav_loss (dict): ``SwAVRegionLoss`` (its ``dim`` is set to D here).
        upsample_embeddings (bool): resize the embedding map to the view
            size before pooling (the paper's ``Z`` has the view's resolution);
            False pools at the head's resolution (region maps resized,
            nearest).
        region_key (str): the region maps' key in ``view_seg_maps``.
        nonfinite_loss (str): 'raise' (default) or 'skip'.
        max_nonfinite_skips (int): consecutive skips before stopping (20).
        data_preprocessor (dict, optional): ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): initialisation config.
    """

    teacher_follows = ()
    dense_stages = ('auto', 'embedding', 'backbone')

    @classmethod
    def view_map_kinds(cls, model_cfg: dict) -> Dict[str, str]:
        """The superpixel region maps of every view, under ``region_key``."""
        return {model_cfg.get('region_key', 'superpixels'): 'regions'}

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 prototypes: dict,
                 swav_loss: dict,
                 neck: Optional[dict] = None,
                 upsample_embeddings: bool = True,
                 region_key: str = 'superpixels',
                 nonfinite_loss: str = 'raise',
                 max_nonfinite_skips: int = 20,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, predict_with='student',
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         nonfinite_loss=nonfinite_loss, max_nonfinite_skips=max_nonfinite_skips)
        self.decode_head = MODELS.build(decode_head)
        self.prototypes = MODELS.build(prototypes)
        dim = self.prototypes.dim
        if getattr(self.decode_head, 'out_channels', dim) != dim:
            raise ValueError(f'ViCE: decode_head.num_classes ({self.decode_head.out_channels}) '
                             f'must equal prototypes.dim ({dim}), the embedding dimension D')
        self.swav_loss = MODELS.build(dict(swav_loss, dim=dim))
        self.upsample_embeddings = upsample_embeddings
        self.region_key = region_key

    @classmethod
    def check_config(cls, model_cfg: dict) -> List[Tuple[str, str]]:
        """D is written twice (decode head and prototypes); they must agree."""
        head, protos = model_cfg.get('decode_head'), model_cfg.get('prototypes')
        if isinstance(head, dict) and isinstance(protos, dict):
            d_head, d_proto = head.get('num_classes'), protos.get('dim')
            if d_head is not None and d_proto is not None and d_head != d_proto:
                return [('decode_head.num_classes',
                         f'{d_head} differs from prototypes.dim = {d_proto}: the head\'s '
                         'classifier is the D-dimensional embedding projection')]
        return []

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm embedding map of a batch of views.

        Args:
            images (Tensor): ``(N, 3, H, W)`` normalised views.

        Returns:
            Tensor: ``(N, D, H, W)`` (``upsample_embeddings``) or
            ``(N, D, h, w)`` at the head's resolution.
        """
        emb = self.head_embeddings(images)
        if self.upsample_embeddings and emb.shape[-2:] != images.shape[-2:]:
            emb = F.interpolate(emb, size=images.shape[-2:], mode='bilinear',
                                align_corners=False)
        return F.normalize(emb, dim=1)

    def head_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """The decode head's embedding map, before upsampling and normalisation.

        Args:
            images (Tensor): ``(N, 3, H, W)`` normalised views.

        Returns:
            Tensor: ``(N, D, h, w)`` at the head's resolution.
        """
        feats = self.backbone(images)
        if self.with_neck:
            feats = self.neck(feats)
        return self.decode_head(feats)

    # ------------------------------------------------------------------ training
    def loss(self, inputs: List[torch.Tensor], data_samples: List) -> Dict[str, torch.Tensor]:
        """ViCE's loss on a batch of M-view samples.

        Args:
            inputs (list[Tensor]): M ``(B, 3, H, W)`` views of one size.
            data_samples (list): per image, ``view_seg_maps[region_key]``
                ``(M, H, W)`` mutual region ids (``MutualRegionFilter``).

        Returns:
            dict: ``loss_swav``.
        """
        num_views = len(inputs) if isinstance(inputs, (list, tuple)) else 0
        if num_views < 2:
            raise ValueError('ViCE.loss expects a list of M >= 2 views; check the pipeline '
                             '(MultiViewRandomResizedCrop + PackMultiViewInputs)')
        if not all(self.region_key in (ds.get('view_seg_maps') or {}) for ds in data_samples):
            raise ValueError(f'ViCE.loss needs the region maps view_seg_maps[{self.region_key!r}] '
                             'of every sample; put Superpixels before MultiViewRandomResizedCrop '
                             'and MutualRegionFilter before PackMultiViewInputs')
        regions = torch.stack([ds.view_seg_maps[self.region_key] for ds in data_samples], 1)
        regions = regions.flatten(0, 1).to(inputs[0].device)  # (M * B, H, W), view-major
        self.prototypes.normalize_()
        images = torch.cat(inputs)
        if self.upsample_embeddings:
            # region means of the normalised map upsampled to the views' size, computed at
            # the head's resolution (same values, without the (M*B, D, H, W) map and its
            # gradient)
            loss = self.swav_loss(self.head_embeddings(images), regions, self.prototypes.weight,
                                  num_views, upsample_to=tuple(images.shape[-2:]))
        else:
            loss = self.swav_loss(self.embed(images), regions, self.prototypes.weight, num_views)
        return dict(loss_swav=loss)

    # ------------------------------------------------------------------ inference interface
    @torch.no_grad()
    def extract_dense(self, inputs: torch.Tensor, stage: str = 'auto') -> torch.Tensor:
        """``(B, D, h, w)`` unit-norm embeddings ('auto', 'embedding'; at the
        head's resolution) or the backbone's last map ('backbone')."""
        if stage not in self.dense_stages:
            raise ValueError(f'ViCE: stage must be one of {self.dense_stages}, got {stage!r}')
        if stage == 'backbone':
            return self.backbone(inputs)[-1]
        feats = self.backbone(inputs)
        if self.with_neck:
            feats = self.neck(feats)
        return F.normalize(self.decode_head(feats), dim=1)

    @property
    def num_clusters(self) -> int:
        """K, the number of prototypes (visual concepts)."""
        return self.prototypes.num_prototypes

    @property
    def dense_logit_scale(self) -> float:
        """Logits are ``cos(c_k, z) / tau``."""
        return 1. / self.swav_loss.temperature

    @torch.no_grad()
    def dense_logits(self, inputs: torch.Tensor,
                     size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """``(B, K, h, w)`` prototype logits ``cos(c_k, z) / tau``, bilinearly
        resized to ``size`` (default: the input size)."""
        logits = self.prototypes(self.extract_dense(inputs)).float() * self.dense_logit_scale
        return F.interpolate(logits, size=size or inputs.shape[-2:], mode='bilinear',
                             align_corners=False)
