# Copyright (c) mmdense contributors. All rights reserved.
import torch
from mmengine.logging import MessageHub

from tests.harness.slotcon_tiny import build_tiny_slotcon, fake_batch


def test_teacher_starts_as_a_copy_and_losses_are_finite():
    model = build_tiny_slotcon()
    for t, s in zip(model.teacher.module.parameters(), model.student_network().parameters()):
        assert torch.equal(t, s)
    views, samples = fake_batch(4)
    losses = model.loss(views, samples)
    assert set(losses) == {'loss_group', 'loss_contrast'}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert model.grouping.prototypes.grad is not None
    assert model.predictor.mlp[0].weight.grad is not None
    # teacher never gets gradients
    assert all(p.grad is None for p in model.teacher.parameters())


def test_teacher_momentum_schedule_and_own_bn_stats():
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 10)
    model = build_tiny_slotcon()
    teacher = model.teacher
    assert abs(teacher.teacher_momentum(0) - 0.99) < 1e-9
    assert abs(teacher.teacher_momentum(5) - 0.995) < 1e-9
    assert abs(teacher.teacher_momentum(10) - 1.0) < 1e-9
    # one manual update: teacher <- m t + (1 - m) s
    teacher.update_parameters(model.student_network())  # first call copies
    with torch.no_grad():
        model.grouping.prototypes.add_(1.0)
    before = teacher.module.grouping.prototypes.clone()
    m = teacher.teacher_momentum()
    teacher.update_parameters(model.student_network())
    expected = m * before + (1 - m) * model.grouping.prototypes
    assert torch.allclose(teacher.module.grouping.prototypes, expected, atol=1e-6)
    # BN running stats are not copied from the student
    model.backbone.bn1.running_mean.fill_(7.)
    teacher.update_parameters(model.student_network())
    assert not torch.equal(teacher.module.backbone.bn1.running_mean, model.backbone.bn1.running_mean)
    hub.update_info('max_iters', None)


def test_predict_gives_prototype_maps():
    model = build_tiny_slotcon().eval()
    images = torch.randn(2, 3, 32, 40)
    samples = model.predict(images, return_logits=True)
    assert samples[0].pred_sem_seg.data.shape == (1, 32, 40)
    assert samples[0].seg_logits.data.shape == (6, 32, 40)
    assert int(samples[0].pred_sem_seg.data.max()) < 6
    out = model(images, mode='predict')
    assert torch.equal(out[1].pred_sem_seg.data, samples[1].pred_sem_seg.data)


def test_no_surviving_slot_keeps_the_loss_finite():
    model = build_tiny_slotcon()
    k_slots = torch.randn(2, 6, 16)
    q_slots = torch.randn(2, 6, 16, requires_grad=True)
    q_dots = torch.zeros(2, 6, 2, 2)
    q_dots[:, 0] = 1.  # student: prototype 0 everywhere
    k_dots = torch.zeros(2, 6, 2, 2)
    k_dots[:, 1] = 1.  # teacher: prototype 1 everywhere -> no common slot
    loss = model.slot_contrast(q_slots, q_dots, k_slots, k_dots)
    assert torch.isfinite(loss) and loss.item() == 0.
    loss.backward()  # the predictor stays in the graph
    assert model.predictor.mlp[0].weight.grad is not None
