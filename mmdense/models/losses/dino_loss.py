# Copyright (c) mmdense contributors. All rights reserved.
"""DINO's self-distillation loss with a centred, sharpened teacher.

Written here because mmpretrain 1.2.0 has no DINO loss (SPEC §0b). CrOC uses
two instances: one on the [CLS] outputs, one on the matched cluster
centroids, each with its own centre.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmdense.models.utils import Centering, all_reduce_sum, rank_and_world
from mmdense.registry import MODELS


@MODELS.register_module()
class DINOLoss(BaseModule):
    """Cross-entropy of the student against the centred, sharpened teacher.

    For teacher view ``t`` and student view ``s != t``:
    ``CE(softmax((teacher_t - c) / tau_t), log_softmax(student_s / tau_s))``,
    averaged over the samples and then over the ``V_t V_s - V_t`` cross-view
    pairs. Row ``i`` of every view describes the same thing (an image's
    [CLS], or a matched centroid), so pairs are taken row by row.

    Multi-crop (DINO's local views): the student may have more views than
    the teacher (``V_s >= V_t``); its first ``V_t`` views are the teacher's
    views, the others (local crops) are seen by the student only.

    With ``global_mean=True`` the sample mean divides by the number of
    samples on all ranks (over the world size), so N ranks with different
    sample counts (CrOC's centroids) give the gradient of one process on
    the whole batch after DDP's averaging.

    ``teacher_temp`` may be changed during training (the temperature
    warm-up hook sets it before every iteration).

    Args:
        out_dim (int): K, the number of outputs.
        student_temp (float): ``tau_s`` (0.1).
        teacher_temp (float): ``tau_t`` after the warm-up (0.04 - 0.07).
        center_momentum (float): EMA weight of the old centre (0.9).
        global_mean (bool): normalise by the sample count of all ranks.
        init_cfg (dict, optional): unused (no parameters).
    """

    def __init__(self,
                 out_dim: int,
                 student_temp: float = 0.1,
                 teacher_temp: float = 0.04,
                 center_momentum: float = 0.9,
                 global_mean: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if student_temp <= 0 or teacher_temp <= 0:
            raise ValueError(f'DINOLoss: temperatures must be > 0, got student_temp='
                             f'{student_temp}, teacher_temp={teacher_temp}')
        self.out_dim = out_dim
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.global_mean = global_mean
        self.centering = Centering(out_dim, center_momentum, score_ndim=2)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """Loss over all cross-view pairs.

        Args:
            student (Tensor): ``(V_s, N, K)`` student logits of V_s views.
            teacher (Tensor): ``(V_t, N, K)`` teacher logits (no gradient) of
                the student's first ``V_t <= V_s`` views.

        Returns:
            Tensor: scalar loss (0 with a graph when N = 0 on every rank).
        """
        student_views, num, _ = student.shape
        teacher_views = teacher.shape[0]
        if teacher.shape[1:] != student.shape[1:] or not 1 <= teacher_views <= student_views:
            raise ValueError(f'DINOLoss: student {tuple(student.shape)} and teacher '
                             f'{tuple(teacher.shape)} logits must be (V_s, N, K) and (V_t, N, K) '
                             'with 1 <= V_t <= V_s')
        if student_views < 2:
            raise ValueError('DINOLoss: needs at least two views for cross-view pairs')
        targets = F.softmax(self.centering.centre(teacher.detach()) / self.teacher_temp, dim=-1)
        log_probs = F.log_softmax(student.float() / self.student_temp, dim=-1)
        # (V_t, V_s, N): cross-entropy of every (teacher view, student view) pair
        cross = -torch.einsum('tnk,snk->tsn', targets, log_probs)
        off_diagonal = ~torch.eye(teacher_views, student_views, dtype=torch.bool,
                                  device=student.device)
        total = cross[off_diagonal].sum(dim=-1).sum() / off_diagonal.sum()
        return total / self._sample_count(num, student)

    def _sample_count(self, num: int, like: torch.Tensor) -> torch.Tensor:
        """N, or the mean N per rank with ``global_mean``; at least 1."""
        count = like.new_tensor(float(num))
        if self.global_mean:
            count = all_reduce_sum(count) / rank_and_world()[1]
        return count.clamp_min(1.)

    @torch.no_grad()
    def update_center(self, teacher: torch.Tensor) -> None:
        """EMA of the teacher's mean output over all views, samples, ranks.

        Args:
            teacher (Tensor): ``(V, N, K)`` teacher logits.
        """
        scores = teacher.flatten(0, 1)
        count = scores.new_tensor(float(scores.shape[0]))
        if self.centering.distributed:
            count = all_reduce_sum(count)
        if count.item() > 0:  # no sample on any rank: keep the centre
            self.centering.update_center(scores)
