# Copyright (c) mmdense contributors. All rights reserved.
"""DINOLoss: cross-view pairs only, centring and sharpening, its centre."""
import pytest
import torch
import torch.nn.functional as F

from mmdense.models.losses import DINOLoss


def _reference(student, teacher, center, tau_s, tau_t):
    """DINO's loop over (teacher view, student view != teacher view)."""
    total, terms = 0., 0
    for t in range(teacher.shape[0]):
        q = F.softmax((teacher[t] - center) / tau_t, dim=-1)
        for s in range(student.shape[0]):
            if s == t:
                continue
            total += torch.sum(-q * F.log_softmax(student[s] / tau_s, dim=-1), dim=-1).mean()
            terms += 1
    return total / terms


def test_matches_dinos_loop_and_skips_same_view_pairs():
    gen = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(3, 5, 16, generator=gen), torch.randn(3, 5, 16, generator=gen)
    loss = DINOLoss(16, student_temp=0.1, teacher_temp=0.05)
    loss.centering.center.normal_(generator=gen)
    expected = _reference(student, teacher, loss.centering.center, 0.1, 0.05)
    torch.testing.assert_close(loss(student, teacher), expected)
    # identical views: the same-view pairs (which would be lower) are not counted
    same = DINOLoss(16)
    torch.testing.assert_close(same(student, student.clone()),
                               _reference(student, student, 0., 0.1, 0.04))


def test_teacher_temperature_is_read_at_every_call():
    gen = torch.Generator().manual_seed(1)
    student, teacher = torch.randn(2, 4, 8, generator=gen), torch.randn(2, 4, 8, generator=gen)
    loss = DINOLoss(8, teacher_temp=0.07)
    before = loss(student, teacher)
    loss.teacher_temp = 0.04  # what TeacherTempWarmupHook does
    torch.testing.assert_close(loss(student, teacher), _reference(student, teacher, 0., 0.1, 0.04))
    assert not torch.isclose(before, loss(student, teacher))


def test_centre_update_and_empty_batches():
    loss = DINOLoss(4, center_momentum=0.9)
    teacher = torch.arange(24.).view(2, 3, 4)
    loss.update_center(teacher)
    torch.testing.assert_close(loss.centering.center, 0.1 * teacher.flatten(0, 1).mean(0, keepdim=True))
    # no sample at all: the centre is kept and the loss is 0 with a graph
    before = loss.centering.center.clone()
    student = torch.zeros(2, 0, 4, requires_grad=True)
    value = loss(student, torch.zeros(2, 0, 4))
    value.backward()
    assert value.item() == 0 and student.grad is not None
    loss.update_center(torch.zeros(2, 0, 4))
    assert torch.equal(loss.centering.center, before)


def test_multi_crop_student_views_pair_with_every_teacher_view():
    """Local views (student only, after the teacher's views): DINO's loop, V_t V_s - V_t terms."""
    gen = torch.Generator().manual_seed(2)
    student, teacher = torch.randn(5, 3, 8, generator=gen), torch.randn(2, 3, 8, generator=gen)
    loss = DINOLoss(8, teacher_temp=0.05)
    torch.testing.assert_close(loss(student, teacher),
                               _reference(student, teacher, 0., 0.1, 0.05))
    # the first two student views are the teacher's: without locals, the two-view loss
    torch.testing.assert_close(loss(student[:2], teacher),
                               _reference(student[:2], teacher, 0., 0.1, 0.05))
    with pytest.raises(ValueError, match='V_t <= V_s'):
        loss(student[:1], teacher)
    with pytest.raises(ValueError, match='V_t <= V_s'):
        loss(student[..., :4], teacher)
    with pytest.raises(ValueError, match='1 <= V_t'):
        loss(student, teacher[:0])
