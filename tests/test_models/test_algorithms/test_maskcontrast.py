# Copyright (c) mmdense contributors. All rights reserved.
"""MaskContrast: object remapping, prototype pooling, the loss against a
straightforward reference, the queue and the momentum key network, the
inference interface."""
import pytest
import torch
import torch.nn.functional as F

from mmdense.models.algorithms.maskcontrast import object_slots, prototype_table
from mmdense.models.losses import PixelPrototypeContrastLoss, SaliencyBCELoss
from tests.harness.maskcontrast_tiny import build_tiny_maskcontrast, fake_batch


def test_object_slots_remap_ids():
    masks = torch.tensor([[[0, 1, 2], [3, 1, 0]]])
    assert object_slots(masks, 1).tolist() == [[[-1, 0, 0], [0, 0, -1]]]
    # M = 2: ids 1, 2 -> slots 0, 1; id 3 > M has no slot
    assert object_slots(masks, 2).tolist() == [[[-1, 0, 1], [-1, 0, -1]]]


def test_prototype_table_pools_each_object_of_each_image():
    emb = torch.zeros(2, 2, 2, 2)  # (B, D, H, W)
    emb[0, 0] = torch.tensor([[1., 3.], [0., 0.]])
    emb[0, 1] = torch.tensor([[0., 0.], [2., 0.]])
    emb[1, 1] = torch.tensor([[5., 5.], [5., 5.]])
    slots = torch.tensor([[[0, 0], [1, -1]],     # image 0: slot 0 = top row, slot 1 = (1, 0)
                          [[1, 1], [1, 1]]])     # image 1: only slot 1
    table, valid = prototype_table(emb, slots, max_objects=2)
    assert valid.tolist() == [True, True, False, True]
    assert torch.allclose(table[0], torch.tensor([1., 0.]))  # mean (2, 0), normalised
    assert torch.allclose(table[1], torch.tensor([0., 1.]))
    assert torch.equal(table[2], torch.zeros(2))
    assert torch.allclose(table[3], torch.tensor([0., 1.]))


def _reference_loss(query, target, protos, valid, queue, temperature):
    """Per pixel: -log softmax over [valid prototypes, queue] at its own one."""
    kept = [i for i in range(len(protos)) if valid[i]]
    negatives = torch.cat([protos[kept], queue])
    total, count = 0., 0
    for z, t in zip(query, target):
        if not valid[t]:
            continue
        logits = torch.stack([z @ p for p in negatives]) / temperature
        total = total - torch.log_softmax(logits, 0)[kept.index(int(t))]
        count += 1
    return total / count


def test_contrast_loss_matches_reference():
    gen = torch.Generator().manual_seed(0)
    query = F.normalize(torch.randn(7, 4, generator=gen), dim=1)
    protos = F.normalize(torch.randn(5, 4, generator=gen), dim=1)
    queue = F.normalize(torch.randn(3, 4, generator=gen), dim=1)
    valid = torch.tensor([True, False, True, True, True])
    target = torch.tensor([0, 1, 2, 3, 4, 0, 1])  # two pixels of the absent prototype 1
    loss = PixelPrototypeContrastLoss(temperature=0.5)(query, target, protos, valid, queue)
    ref = _reference_loss(query, target, protos, valid, queue, 0.5)
    assert torch.allclose(loss, ref, atol=1e-6)
    # unfilled queue slots are no negatives
    part = PixelPrototypeContrastLoss(0.5)(query, target, protos, valid, queue,
                                           torch.tensor([True, False, False]))
    assert torch.allclose(part, _reference_loss(query, target, protos, valid, queue[:1], 0.5),
                          atol=1e-6)


def test_balanced_bce_weights_the_rare_class():
    logits = torch.tensor([[2., -1., 0.5, -3.]])
    target = torch.tensor([[1, 0, 0, 0]])
    plain = SaliencyBCELoss(balanced=False)(logits, target)
    assert torch.allclose(plain, F.binary_cross_entropy_with_logits(logits, target.float()))
    per_pixel = F.binary_cross_entropy_with_logits(logits, target.float(), reduction='none')
    w = 0.75  # background fraction: the positive pixel weighs 0.75, negatives 0.25
    ref = (w * per_pixel[0, 0] + (1 - w) * per_pixel[0, 1:].sum()) / 4
    assert torch.allclose(SaliencyBCELoss(balanced=True)(logits, target), ref)


def test_queue_wraps_and_key_network_follows():
    model = build_tiny_maskcontrast()
    views, samples = fake_batch(2)
    # 2 images x 2 objects = 4 prototypes per step, queue of 6: wraps in step 2
    assert int(model.queue.num_filled) == 6  # random unit vectors, counted as filled
    model.loss(views, samples)  # the first EMA update copies the student (shared teacher)
    assert int(model.queue.ptr) == 4
    first = model.queue.queue[:4].clone()
    assert torch.allclose(first.norm(dim=1), torch.ones(4), atol=1e-5)
    key_before = [p.clone() for p in model.teacher.module.parameters()]
    with torch.no_grad():
        for p in model.student_network().parameters():
            p.add_(0.1)
    student = [p.clone() for p in model.student_network().parameters()]
    model.loss(views, samples)
    for k0, s, k1 in zip(key_before, student, model.teacher.module.parameters()):
        assert torch.allclose(k1, 0.999 * k0 + 0.001 * s, atol=1e-6)
    assert int(model.queue.ptr) == 2  # 4 + 4 wraps around 6
    assert int(model.queue.num_filled) == 6
    assert torch.equal(model.queue.queue[2:4], first[2:4])  # not yet overwritten
    assert not torch.equal(model.queue.queue[:2], first[:2])  # step 2 wrapped onto slots 0, 1


def test_loss_backward_and_interface():
    model = build_tiny_maskcontrast()
    views, samples = fake_batch(3)
    losses = model.loss(views, samples)
    assert set(losses) == {'loss_contrast', 'loss_saliency'}
    sum(losses.values()).backward()
    assert model.head.conv.weight.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())
    x = views[0]
    emb = model.extract_dense(x)
    assert emb.shape == (3, 8, 4, 4)  # output stride 8
    assert torch.allclose(emb.norm(dim=1), torch.ones(3, 4, 4), atol=1e-5)
    assert model.extract_dense(x, "neck").shape == (3, 16, 4, 4)
    sal = model.dense_saliency(x, (20, 24))
    assert sal.shape == (3, 20, 24) and 0 <= sal.min() and sal.max() <= 1
    with pytest.raises(ValueError, match='stage'):
        model.extract_dense(x, 'grouping')
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    ds = [SegDataSample(gt_sem_seg=PixelData(data=torch.zeros(1, 32, 32, dtype=torch.long)))
          for _ in range(3)]
    out = model.predict(x, ds)
    assert out[0].dense_feats.shape == (8, 4, 4)
    assert out[0].pred_saliency.shape == (32, 32)


def test_upsample_off_gives_same_kind_of_losses():
    model = build_tiny_maskcontrast(upsample=False)
    views, samples = fake_batch(2)
    losses = model.loss(views, samples)
    assert all(torch.isfinite(v) for v in losses.values())


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match='queue_length'):
        build_tiny_maskcontrast(queue_length=0)
    from mmdense.models.algorithms import MaskContrast
    problems = MaskContrast.check_config(dict(neck=dict(channels=16), head=dict(in_channels=8)))
    assert problems and problems[0][0] == 'head.in_channels'


def test_predict_runs_the_network_once_for_features_and_saliency():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    model = build_tiny_maskcontrast().eval()
    x = fake_batch(2)[0][0]
    calls = []
    handle = model.backbone.register_forward_hook(lambda *args: calls.append(1))
    ds = [SegDataSample(gt_sem_seg=PixelData(data=torch.zeros(1, 20, 24, dtype=torch.long)))
          for _ in range(2)]
    out = model.predict(x, ds)
    assert len(calls) == 1
    handle.remove()
    assert torch.equal(torch.stack([d.dense_feats for d in out]), model.extract_dense(x))
    want = model.dense_saliency(x, (20, 24))
    assert torch.equal(torch.stack([d.pred_saliency.data[0] for d in out]), want)
