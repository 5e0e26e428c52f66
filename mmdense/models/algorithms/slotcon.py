# Copyright (c) mmdense contributors. All rights reserved.
"""SlotCon: semantic grouping over learnable prototypes + slot-level contrast.

Wen et al., "Self-Supervised Visual Representation Learning with Semantic
Grouping", NeurIPS 2022. See ``docs/methods/slotcon.md`` and SPEC §1.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmpretrain.models.selfsup import BaseSelfSupervisor

from mmdense.models.utils import MomentumTeacher, argmax_presence, inverse_augment
from mmdense.registry import MODELS
from mmdense.structures import stack_view_geometry
from .base import NonFiniteLossMixin


@MODELS.register_module()
class SlotCon(NonFiniteLossMixin, BaseSelfSupervisor):
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
        grouping (dict): ``SemanticGrouping`` (prototypes).
        predictor (dict): slot predictor (``MLPNeck``, dense=False).
        group_loss (dict): ``PrototypeDistillLoss``.
        contrast_loss (dict): ``SlotContrastLoss``.
        teacher_momentum (float): teacher EMA weight at the start (0.99).
        end_teacher_momentum (float): teacher EMA weight at the end (1.0).
        group_loss_weight (float): ``w`` (lambda_g, 0.5).
        predict_with (str): network used by :meth:`predict` and
            :meth:`dense_scores`: 'teacher' (default; the one kept for
            downstream) or 'student'.
        nonfinite_loss (str): a NaN/Inf loss term stops training
            ('raise', default) or skips the step ('skip'); checked before
            the update (see ``NonFiniteLossMixin``).
        max_nonfinite_skips (int): consecutive skipped steps before
            stopping under 'skip' (20).
        data_preprocessor (dict, optional): ``SelfSupDataPreprocessor`` config.
        init_cfg (dict, optional): initialisation config.
    """

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
        super().__init__(backbone=backbone, neck=neck,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         nonfinite_loss=nonfinite_loss, max_nonfinite_skips=max_nonfinite_skips)
        if not 0. <= group_loss_weight <= 1.:
            raise ValueError(f'SlotCon: group_loss_weight must be in [0, 1], got {group_loss_weight}')
        if predict_with not in ('teacher', 'student'):
            raise ValueError(f"SlotCon: predict_with must be 'teacher' or 'student', got {predict_with!r}")
        self.grouping = MODELS.build(grouping)
        self.predictor = MODELS.build(predictor)
        self.group_loss = MODELS.build(group_loss)
        self.contrast_loss = MODELS.build(contrast_loss)
        self.group_loss_weight = group_loss_weight
        self.predict_with = predict_with
        self.teacher = MomentumTeacher(self._student(), teacher_momentum, end_teacher_momentum)

    # ------------------------------------------------------------------ parts
    def _student(self) -> nn.ModuleDict:
        """The student parts the teacher follows (a view, not a new module)."""
        return nn.ModuleDict(dict(backbone=self.backbone, neck=self.neck, grouping=self.grouping))

    def init_weights(self) -> None:
        """Initialise the student, then make the teacher an exact copy of it."""
        super().init_weights()
        with torch.no_grad():
            for t, s in zip(self.teacher.module.parameters(), self._student().parameters()):
                t.copy_(s)

    @staticmethod
    def _encode(net: nn.Module, view: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(slots (B, K, D), dots (B, K, h, w))`` of one view through ``net``."""
        return net.grouping(net.neck(net.backbone(view)))

    # ------------------------------------------------------------------ training
    def loss(self, inputs: List[torch.Tensor], data_samples: List) -> Dict[str, torch.Tensor]:
        """Compute SlotCon's losses on a batch of view pairs.

        Args:
            inputs (list[Tensor]): two ``(B, 3, H, W)`` views.
            data_samples (list): per image, with ``view_boxes`` ``(2, 4)`` and
                ``view_flips`` ``(2,)`` (see ``TwoViewRandomResizedCrop``).

        Returns:
            dict: ``loss_group`` and ``loss_contrast``.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('SlotCon.loss expects a list of two views; check the pipeline '
                             '(TwoViewRandomResizedCrop + PackMultiViewInputs)')
        boxes, flips = stack_view_geometry(data_samples, device=inputs[0].device)
        student = [self._encode(self, v) for v in inputs]
        with torch.no_grad():
            self.teacher.update_parameters(self._student())
            teacher = [self._encode(self.teacher.module, v) for v in inputs]

        def aligned(dots: torch.Tensor, view: int) -> torch.Tensor:
            return inverse_augment(dots, boxes[:, view], flips[:, view])

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

    # ------------------------------------------------------------------ inference
    def forward(self, inputs, data_samples: Optional[list] = None, mode: str = 'tensor'):
        """``mode``: 'tensor' (backbone features), 'loss' or 'predict'."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    @torch.no_grad()
    def dense_scores(self, inputs: torch.Tensor, size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """Per-pixel prototype logits of a batch of images.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised images.
            size (tuple, optional): output ``(h, w)``; defaults to ``(H, W)``.

        Returns:
            Tensor: ``(B, K, h, w)`` logits ``cos(S_k, z) / temperature``,
            bilinearly upsampled from the feature map.
        """
        net = self.teacher.module if self.predict_with == 'teacher' else self._student()
        dots = net.grouping.scores(net.neck(net.backbone(inputs)))
        logits = dots.float() / net.grouping.temperature
        return F.interpolate(logits, size=size or inputs.shape[-2:], mode='bilinear',
                             align_corners=False)

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                return_logits: bool = False) -> list:
        """Prototype assignment per pixel, in mmseg's ``SegDataSample`` layout.

        Each sample gets ``pred_sem_seg`` (``1 x H x W`` prototype ids, at the
        size of its ``gt_sem_seg`` when present, else of the input) and, with
        ``return_logits``, ``seg_logits`` (``K x H x W``).
        """
        from mmseg.structures import SegDataSample
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(inputs.shape[0])]
        sizes = {tuple(ds.gt_sem_seg.shape) if 'gt_sem_seg' in ds else tuple(inputs.shape[-2:])
                 for ds in data_samples}
        if len(sizes) != 1:
            raise ValueError(f'SlotCon.predict: samples of one batch need one label size, got {sizes}')
        logits = self.dense_scores(inputs, size=sizes.pop())
        preds = logits.argmax(dim=1, keepdim=True)
        for i, ds in enumerate(data_samples):
            ds.pred_sem_seg = PixelData(data=preds[i])
            if return_logits:
                ds.seg_logits = PixelData(data=logits[i])
        return data_samples
