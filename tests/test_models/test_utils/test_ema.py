# Copyright (c) mmdense contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub

from mmdense.models.utils import MomentumTeacher


def _student():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))


@pytest.fixture
def max_iters():
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 10)
    yield
    hub.update_info('max_iters', None)


def test_momentum_is_stored_once_in_the_papers_convention(max_iters):
    teacher = MomentumTeacher(_student(), momentum=0.99, end_momentum=1.0)
    assert teacher.momentum == 0.99 and teacher.end_momentum == 1.0  # teacher weight
    assert abs(teacher.teacher_momentum(0) - 0.99) < 1e-12
    assert abs(teacher.teacher_momentum(5) - 0.995) < 1e-12
    assert abs(teacher.teacher_momentum(10) - 1.0) < 1e-12
    with pytest.raises(ValueError, match='teacher weight'):
        MomentumTeacher(_student(), momentum=1.5)


def test_first_update_copies_then_lerps_parameters_only(max_iters):
    student = _student()
    teacher = MomentumTeacher(student, momentum=0.9, end_momentum=0.9)
    with torch.no_grad():
        student[0].weight.add_(1.)
    teacher.update_parameters(student)  # step 0: copy
    assert torch.equal(teacher.module[0].weight, student[0].weight)
    before = teacher.module[0].weight.clone()
    with torch.no_grad():
        student[0].weight.add_(1.)
        student[1].running_mean.fill_(7.)
    teacher.update_parameters(student)
    torch.testing.assert_close(teacher.module[0].weight, 0.9 * before + 0.1 * student[0].weight)
    assert not torch.equal(teacher.module[1].running_mean, student[1].running_mean)  # own BN
    assert int(teacher.steps) == 2


def test_copy_from_and_rollback_tensors():
    student = _student()
    teacher = MomentumTeacher(student)
    with torch.no_grad():
        student[0].weight.mul_(3.)
    teacher.copy_from(student)
    assert torch.equal(teacher.module[0].weight, student[0].weight)
    state = teacher.rollback_tensors()
    assert state[0] is teacher.steps
    assert {id(t) for t in state[1:]} == {id(p) for p in teacher.module.parameters()}
