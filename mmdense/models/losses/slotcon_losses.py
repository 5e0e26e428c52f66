# Copyright (c) mmdense contributors. All rights reserved.
"""SlotCon's two objectives: prototype self-distillation and slot contrast."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmdense.models.utils import Centering, all_reduce_sum, concat_all_gather, rank_and_world
from mmdense.registry import MODELS


@MODELS.register_module()
class PrototypeDistillLoss(Centering):
    """Per-pixel cross-entropy between centred teacher and student assignments.

    ``L = mean_pixels CE(softmax((t - c) / tau_t), log_softmax(s / tau_s))`` over
    the K prototype scores. The centre ``c`` ``(1, K, 1, 1)`` is the shared
    :class:`Centering` (DINO's), updated with the teacher's scores over all
    pixels of all ranks by :meth:`update_center`.

    Args:
        num_prototypes (int): K. SlotCon passes its grouping's K, so configs
            write K once (in ``grouping``).
        student_temp (float): tau_s (0.1).
        teacher_temp (float): tau_t (0.07).
        center_momentum (float): EMA weight of the old centre (0.9).
    """

    def __init__(self,
                 num_prototypes: int,
                 student_temp: float = 0.1,
                 teacher_temp: float = 0.07,
                 center_momentum: float = 0.9) -> None:
        super().__init__(num_prototypes, momentum=center_momentum, score_ndim=4)
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """Loss between aligned score maps.

        Args:
            student (Tensor): ``(B, K, H, W)`` student scores (with grad).
            teacher (Tensor): ``(B, K, H, W)`` teacher scores (no grad).

        Returns:
            Tensor: scalar, mean over the ``B * H * W`` pixels.
        """
        target = (self.centre(teacher) / self.teacher_temp).softmax(dim=1)
        log_prob = F.log_softmax(student.float() / self.student_temp, dim=1)
        return -(target * log_prob).sum(dim=1).mean()


@MODELS.register_module()
class SlotContrastLoss(BaseModule):
    """InfoNCE between predicted student slots and teacher slots of all ranks.

    Queries are the student slots that survive the indicator (their prototype
    is the argmax of some pixel in both views), after the predictor. Keys are
    all surviving teacher slots of the other view, **gathered from every
    rank**, so other images' slots are the negatives. The positive of a query
    is its own image's teacher slot of the same prototype.

    The sum of the per-query cross-entropies is divided by the number of
    queries over *all* ranks (times the world size, which DDP's gradient
    averaging divides again), so the distributed loss equals the loss of one
    process on the concatenated batch. With no query anywhere the loss is 0
    (the official code returns NaN).

    Args:
        temperature (float): tau (0.2).
        scale_by_temperature (bool): multiply by ``2 * tau`` (official code).
    """

    def __init__(self, temperature: float = 0.2, scale_by_temperature: bool = True) -> None:
        super().__init__()
        self.temperature = temperature
        self.scale = 2 * temperature if scale_by_temperature else 1.

    def forward(self, queries: torch.Tensor, query_mask: torch.Tensor, keys: torch.Tensor,
                key_mask: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            queries (Tensor): ``(Nq, D)`` predicted student slots, in the order
                of ``query_mask.nonzero()``.
            query_mask (Tensor): ``(B * K,)`` bool, which local slots are queries.
            keys (Tensor): ``(B * K, D)`` teacher slots of this rank.
            key_mask (Tensor): ``(B * K,)`` bool, which teacher slots are keys.

        Returns:
            Tensor: scalar loss.
        """
        rank, world = rank_and_world()
        all_keys = concat_all_gather(F.normalize(keys.float(), dim=1))
        all_mask = concat_all_gather(key_mask)
        # position of every gathered slot among the kept keys
        key_position = all_mask.long().cumsum(0) - 1
        local_index = query_mask.nonzero(as_tuple=True)[0] + rank * query_mask.numel()
        labels = key_position[local_index]
        logits = F.normalize(queries.float(), dim=1) @ all_keys[all_mask].t() / self.temperature
        ce_sum = F.cross_entropy(logits, labels, reduction='sum')
        num_queries = all_reduce_sum(query_mask.sum().to(logits.dtype))
        return ce_sum * world / num_queries.clamp(min=1.) * self.scale
