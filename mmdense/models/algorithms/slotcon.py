# Copyright (c) mmdense contributors. All rights reserved.
"""SlotCon: semantic grouping over learnable prototypes + slot-level contrast.

Wen et al., "Self-Supervised Visual Representation Learning with Semantic
Grouping", NeurIPS 2022. See ``docs/methods/slotcon.md``.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdense.models.utils import argmax_presence, inverse_augment
from mmdense.registry import MODELS
from mmdense.structures import pairwise_overlap_boxes, stack_view_geometry
from .base import BaseDenseSelfSupervisor


@MODELS.register_module()
class SlotCon(BaseDenseSelfSupervisor):
    """SlotCon with an EMA teacher.

    Per step, for views ``v1, v2`` of each image: student and teacher map each
    view to projected features ``z`` (``B x D x h x w``) and prototype scores
    (``B x K x h x w``); the teacher is first moved towards the student
    (cosine momentum schedule). Two losses:

    - *grouping*: the student's scores of one view distil the centred teacher
      scores of the other, per pixel, on the views' intersection (inverse
      augmentation with RoIAlign);
    - *slot contrast*: slots pooled from the prototypes' soft assignments
      contrast against the other view's teacher slots of all images on all
      ranks.

    ``loss = w * (G12 + G21) + (1 - w) * (C12 + C21)`` with ``w = 0.5``.

    Args:
        backbone (dict): encoder config (mmpretrain ``ResNet`` returning C5).
        neck (dict): dense projector (``MLPNeck``, dense=True).
        grouping (dict): ``SemanticGrouping`` (prototypes; K is set here only).
        predictor (dict): slot predictor (``MLPNeck``, dense=False).
        group_loss (dict): ``PrototypeDistillLoss`` (its K comes from
            ``grouping``).
        contrast_loss (dict): ``SlotContrastLoss``.
        teacher_momentum (float): teacher EMA weight at the start (0.99).
        end_teacher_momentum (float): teacher EMA weight at the end (1.0).
        group_loss_weight (float): ``w`` (lambda_g, 0.5).
        predict_with (str): 'teacher' (default; the network kept for
            downstream) or 'student'.
        nonfinite_loss (str): 'raise' (default) or 'skip' (see
            ``NonFiniteLossMixin``).
        max_nonfinite_skips (int): consecutive skips before stopping (20).
        data_preprocessor (dict, optional): ``SelfSupDataPreprocessor`` config.
        init_cfg (dict, optional): initialisation config.
    """

    teacher_follows = ('backbone', 'neck', 'grouping')

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 grouping: dict,
                 predictor: dict,
                 group_loss: dict,
                 contrast_loss: dict,
                 teacher_momentum: float = 0.99,
                 end_teacher_momentum: float = 1.0,
                 group_loss_weight: float = 0.5,
                 predict_with: str = 'teacher',
                 nonfinite_loss: str = 'raise',
                 max_nonfinite_skips: int = 20,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, predict_with=predict_with,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         nonfinite_loss=nonfinite_loss, max_nonfinite_skips=max_nonfinite_skips)
        if not 0. <= group_loss_weight <= 1.:
            raise ValueError(f'SlotCon: group_loss_weight must be in [0, 1], got {group_loss_weight}')
        self.grouping = MODELS.build(grouping)
        self.predictor = MODELS.build(predictor)
        self.group_loss = MODELS.build(self._with_k(group_loss))
        self.contrast_loss = MODELS.build(contrast_loss)
        self.group_loss_weight = group_loss_weight
        self.build_teacher(teacher_momentum, end_teacher_momentum)

    @classmethod
    def check_config(cls, model_cfg: dict) -> List[Tuple[str, str]]:
        """K = ``grouping.num_prototypes`` >= 2, written once (the loss's K,
        if given, must equal it)."""
        problems = []
        grouping = model_cfg.get('grouping')
        k = grouping.get('num_prototypes') if isinstance(grouping, dict) else None
        if not isinstance(k, int) or isinstance(k, bool):
            return problems  # a wrong type is reported against the constructor
        if k < 2:
            problems.append(('grouping.num_prototypes',
                             f'K must be >= 2 (prototypes to group pixels into), got {k}'))
        loss = model_cfg.get('group_loss')
        if isinstance(loss, dict) and loss.get('num_prototypes', k) != k:
            problems.append(('group_loss.num_prototypes',
                             f"{loss['num_prototypes']!r} differs from "
                             f'model.grouping.num_prototypes = {k}; they must be equal (or '
                             'leave it out: SlotCon passes the grouping\'s K to the loss)'))
        return problems

    def _with_k(self, group_loss: dict) -> dict:
        """``group_loss`` with the grouping's K (written once, in ``grouping``)."""
        k = self.grouping.num_prototypes
        if group_loss.get('num_prototypes', k) != k:
            raise ValueError(f"SlotCon: group_loss.num_prototypes={group_loss['num_prototypes']} "
                             f'differs from grouping.num_prototypes={k}; set K once, in grouping')
        return dict(group_loss, num_prototypes=k)

    @staticmethod
    def _encode(net: nn.Module, view: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(slots (B, K, D), dots (B, K, h, w))`` of one view through ``net``."""
        return net.grouping(net.neck(net.backbone(view)))

    # ------------------------------------------------------------------ training
    def loss(self, inputs: List[torch.Tensor], data_samples: List) -> Dict[str, torch.Tensor]:
        """Compute SlotCon's losses on a batch of view pairs.

        Args:
            inputs (list[Tensor]): two ``(B, 3, H, W)`` views.
            data_samples (list): per image, with ``view_crops`` ``(2, 4)`` and
                ``view_flips`` ``(2,)`` (see ``MultiViewRandomResizedCrop``).

        Returns:
            dict: ``loss_group`` and ``loss_contrast``.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('SlotCon.loss expects a list of two views; check the pipeline '
                             '(MultiViewRandomResizedCrop + PackMultiViewInputs)')
        crops, flips = stack_view_geometry(data_samples, device=inputs[0].device)
        boxes = pairwise_overlap_boxes(crops, flips, 0, 1)
        student = [self._encode(self, v) for v in inputs]
        with torch.no_grad():
            self.update_teacher()
            teacher = [self._encode(self.teacher.module, v) for v in inputs]

        def aligned(dots: torch.Tensor, view: int) -> torch.Tensor:
            return inverse_augment(dots, boxes[view], flips[:, view])

        loss_group = sum(
            self.group_loss(aligned(student[q][1], q), aligned(teacher[k][1], k))
            for q, k in ((0, 1), (1, 0)))
        self.group_loss.update_center([teacher[0][1], teacher[1][1]])
        loss_contrast = sum(
            self.slot_contrast(*student[q], *teacher[k]) for q, k in ((0, 1), (1, 0)))
        weight = self.group_loss_weight
        return dict(loss_group=weight * loss_group, loss_contrast=(1. - weight) * loss_contrast)

    def slot_contrast(self, q_slots: torch.Tensor, q_dots: torch.Tensor, k_slots: torch.Tensor,
                      k_dots: torch.Tensor) -> torch.Tensor:
        """Slot contrast of student view ``q`` against teacher view ``k``.

        Args:
            q_slots (Tensor): ``(B, K, D)`` student slots.
            q_dots (Tensor): ``(B, K, h, w)`` student scores (not aligned).
            k_slots (Tensor): ``(B, K, D)`` teacher slots.
            k_dots (Tensor): ``(B, K, h, w)`` teacher scores (not aligned).
        """
        key_mask = argmax_presence(k_dots).flatten()
        query_mask = argmax_presence(q_dots).flatten() & key_mask
        flat_slots = q_slots.flatten(0, 1)
        if query_mask.sum() < 2 and self.predictor.training:
            # BatchNorm cannot train on < 2 queries. Keep the predictor in the
            # graph (DDP) and SyncBN's collectives in step on every rank.
            dummy = self.predictor(flat_slots[:2]).sum() * 0.
            query_mask = torch.zeros_like(query_mask)
            queries = flat_slots.new_zeros(0, k_slots.shape[-1])
            return dummy + self.contrast_loss(queries, query_mask, k_slots.flatten(0, 1), key_mask)
        queries = self.predictor(flat_slots[query_mask])
        return self.contrast_loss(queries, query_mask, k_slots.flatten(0, 1), key_mask)

    # ------------------------------------------------------------------ inference interface
    @property
    def num_clusters(self) -> int:
        """K, the number of prototypes."""
        return self.grouping.num_prototypes

    @property
    def dense_logit_scale(self) -> float:
        """Logits are ``cos(S_k, z) / temperature``."""
        return 1. / self.grouping.temperature

    @torch.no_grad()
    def dense_logits(self, inputs: torch.Tensor,
                     size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """Per-pixel prototype logits of a batch of images.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised images.
            size (tuple, optional): output ``(h, w)``; defaults to ``(H, W)``.

        Returns:
            Tensor: ``(B, K, h, w)`` logits ``cos(S_k, z) / temperature`` of
            :meth:`inference_network`, bilinearly upsampled.
        """
        net = self.inference_network()
        dots = net.grouping.scores(net.neck(net.backbone(inputs)))
        logits = dots.float() / net.grouping.temperature
        return F.interpolate(logits, size=size or inputs.shape[-2:], mode='bilinear',
                             align_corners=False)
