# Copyright (c) mmdense contributors. All rights reserved.
"""SlotCon's losses and indicator bookkeeping on hand-checkable inputs."""
import math

import torch
import torch.nn.functional as F

from mmdense.models.heads import SemanticGrouping
from mmdense.models.losses import PrototypeDistillLoss, SlotContrastLoss
from mmdense.models.utils import argmax_presence, soft_region_pool


def test_prototype_distill_loss_by_hand():
    loss = PrototypeDistillLoss(num_prototypes=2, student_temp=1.0, teacher_temp=1.0)
    student = torch.tensor([0., 0.]).view(1, 2, 1, 1)
    teacher = torch.tensor([math.log(3.), 0.]).view(1, 2, 1, 1)
    # target (0.75, 0.25), student log-probs log(0.5) each -> CE = log 2
    assert torch.allclose(loss(student, teacher), torch.tensor(math.log(2.)))
    # a centre equal to the teacher logits makes the target uniform
    loss.center.copy_(teacher)
    student = torch.tensor([math.log(3.), 0.]).view(1, 2, 1, 1)
    expected = -(0.5 * math.log(0.75) + 0.5 * math.log(0.25))
    assert torch.allclose(loss(student, teacher), torch.tensor(expected), atol=1e-6)


def test_center_update_is_an_ema_of_the_pixel_mean():
    loss = PrototypeDistillLoss(num_prototypes=3, center_momentum=0.9)
    t1 = torch.zeros(2, 3, 2, 2)
    t1[:, 0] = 1.0
    t2 = torch.zeros(2, 3, 2, 2)
    t2[:, 1] = 3.0
    loss.update_center([t1, t2])
    expected = 0.1 * torch.tensor([0.5, 1.5, 0.0])
    assert torch.allclose(loss.center.flatten(), expected)


def test_argmax_presence():
    scores = torch.zeros(2, 4, 1, 3)
    scores[0, 1, 0, :] = 1.  # image 0: prototype 1 wins everywhere
    scores[1, 2, 0, 0] = 1.  # image 1: prototypes 2 and 3 win
    scores[1, 3, 0, 1:] = 1.
    presence = argmax_presence(scores)
    assert presence.tolist() == [[False, True, False, False], [False, False, True, True]]


def test_soft_region_pool_is_a_weighted_mean():
    feats = torch.arange(4.).view(1, 1, 2, 2)  # values 0, 1, 2, 3
    weights = torch.tensor([[1., 1., 0., 0.], [0., 0., 0., 1.]]).view(1, 2, 2, 2)
    slots = soft_region_pool(feats, weights)
    assert torch.allclose(slots.flatten(), torch.tensor([0.5, 3.0]))


def test_semantic_grouping_scores_are_cosines():
    grouping = SemanticGrouping(num_prototypes=2, dim=2, temperature=0.07)
    grouping.prototypes.data = torch.tensor([[2., 0.], [0., 5.]])
    feats = torch.tensor([[3., 0.], [1., 1.]]).t().reshape(1, 2, 1, 2)  # pixels (3,0) and (1,1)
    slots, dots = grouping(feats)
    assert torch.allclose(dots[0, :, 0, 0], torch.tensor([1., 0.]), atol=1e-6)
    assert torch.allclose(dots[0, :, 0, 1], torch.full((2,), 2 ** -0.5), atol=1e-6)
    assert slots.shape == (1, 2, 2)
    # prototype 0 takes almost all of pixel 0 and half of pixel 1
    w0 = torch.tensor([torch.sigmoid(torch.tensor(1 / 0.07)).item() + 1e-6, 0.5 + 1e-6])
    expected = (w0[0] * feats[0, :, 0, 0] + w0[1] * feats[0, :, 0, 1]) / w0.sum()
    assert torch.allclose(slots[0, 0], expected, atol=1e-5)


def test_slot_contrast_labels_follow_the_key_mask():
    loss = SlotContrastLoss(temperature=1.0, scale_by_temperature=False)
    # B=2 images, K=3 prototypes, D=3; keys are one-hot per (image, prototype) slot
    keys = torch.eye(6)
    key_mask = torch.tensor([True, False, True, False, True, True])
    query_mask = torch.tensor([True, False, False, False, False, True])
    # queries equal to their positive keys
    queries = keys[query_mask]
    out = loss(queries, query_mask, keys, key_mask)
    kept = keys[key_mask]  # 4 keys; positives of the queries are kept keys 0 and 3
    logits = F.normalize(queries, dim=1) @ kept.t()
    expected = F.cross_entropy(logits, torch.tensor([0, 3]))
    assert torch.allclose(out, expected)


def test_slot_contrast_is_finite_without_queries():
    loss = SlotContrastLoss()
    keys = torch.randn(4, 8)
    out = loss(keys.new_zeros(0, 8), torch.zeros(4, dtype=torch.bool), keys,
               torch.zeros(4, dtype=torch.bool))
    assert torch.isfinite(out) and out.item() == 0.
