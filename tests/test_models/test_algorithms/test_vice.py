# Copyright (c) mmdense contributors. All rights reserved.
"""ViCE: region pooling against a loop, schedules, overfitting, interface."""
import pytest
import torch
import torch.nn.functional as F

from mmdense.models.algorithms import ViCE
from mmdense.models.losses import SwAVRegionLoss
from mmdense.models.algorithms.base import rollback_tensors
from tests.harness.vice_tiny import build_tiny_vice, fake_batch


def test_pooled_means_equal_a_loop_reference():
    torch.manual_seed(0)
    views, batch, dim, size = 3, 2, 5, 12
    emb = torch.randn(views * batch, dim, size, size)
    regions = torch.randint(-1, 7, (views * batch, size, size))
    regions[batch:2 * batch][regions[batch:2 * batch] == 3] = 5  # region 3 missing in view 1
    pooled = SwAVRegionLoss(queue_length=0).pool_regions(emb, regions, views)
    rows = []
    for b in range(batch):
        ids = [r for r in range(7)
               if all((regions[m * batch + b] == r).any() for m in range(views))]
        assert 3 not in ids
        rows += [(b, r) for r in ids]
    assert pooled.shape == (views, len(rows), dim)
    for m in range(views):
        for i, (b, r) in enumerate(rows):
            mask = regions[m * batch + b] == r
            mean = emb[m * batch + b][:, mask].mean(dim=1)
            assert torch.allclose(pooled[m, i], F.normalize(mean, dim=0), atol=1e-5)


def test_region_maps_are_resized_to_the_embeddings_nearest():
    loss = SwAVRegionLoss(queue_length=0)
    emb = torch.randn(2, 4, 4, 4)
    regions = torch.arange(4).repeat_interleave(2)[None, :, None].expand(2, 8, 8) * 0
    regions = regions + (torch.arange(8)[None, None] // 2)  # columns of 2 px -> 1 px at 4 x 4
    pooled = loss.pool_regions(emb, regions, 2)
    assert pooled.shape == (2, 4, 4)
    assert torch.allclose(pooled[0, 1], F.normalize(emb[0, :, :, 1].mean(1), dim=0), atol=1e-6)


def _grad_norm_of_prototypes(model, views, samples):
    model.zero_grad()
    model.loss(views, samples)['loss_swav'].backward()
    grad = model.prototypes.weight.grad
    return 0. if grad is None else float(grad.abs().sum())


def test_prototypes_frozen_then_trained():
    model = build_tiny_vice(swav_loss=dict(freeze_prototypes_iters=2))
    views, samples = fake_batch(4)
    assert [_grad_norm_of_prototypes(model, views, samples) for _ in range(3)][:2] == [0., 0.]
    assert _grad_norm_of_prototypes(model, views, samples) > 0
    assert int(model.swav_loss.step) == 4
    # the counter is checkpointed and restored on a skipped step
    assert any(t is model.swav_loss.step for t in rollback_tensors(model))
    assert 'swav_loss.step' in model.state_dict()


def test_queue_enters_the_codes_from_its_start_iteration(monkeypatch):
    import mmdense.models.losses.vice_loss as vice_loss
    rows = []
    real = vice_loss.sinkhorn_knopp

    def spy(scores, **kwargs):
        rows.append(scores.shape[0])
        return real(scores, **kwargs)

    monkeypatch.setattr(vice_loss, 'sinkhorn_knopp', spy)
    model = build_tiny_vice(swav_loss=dict(queue_length=50, queue_start_iter=2))
    views, samples = fake_batch(2)
    regions = []
    for _ in range(4):
        model.loss(views, samples)
        regions.append(len(model.swav_loss.queue))
    per_step = regions[0]
    assert per_step > 0 and regions[1] == 2 * per_step  # enqueued from the first step
    # steps 0, 1: this step's regions only; from step 2: plus the filled queue
    assert rows[:2] == [per_step, per_step]
    assert rows[2] == per_step + min(50, 2 * per_step)
    assert rows[3] == per_step + min(50, 3 * per_step)
    assert int(model.swav_loss.queue.num_filled) == min(50, 4 * per_step)


def test_loss_decreases_on_a_tiny_overfit_case():
    model = build_tiny_vice()
    views, samples = fake_batch(4)
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(20):
        optim.zero_grad()
        loss = model.loss(views, samples)['loss_swav']
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
    # prototypes are renormalised before each step
    model.loss(views, samples)
    assert torch.allclose(model.prototypes.weight.norm(dim=1), torch.ones(6), atol=1e-5)


def test_inference_interface():
    model = build_tiny_vice().eval()
    images = torch.randn(2, 3, 32, 32)
    emb = model.extract_dense(images)
    assert emb.shape == (2, 8, 8, 8)
    assert torch.allclose(emb.norm(dim=1), torch.ones(2, 8, 8), atol=1e-5)
    assert model.extract_dense(images, 'backbone').shape == (2, 64, 1, 1)
    assert model.num_clusters == 6 and model.dense_logit_scale == pytest.approx(10.)
    logits = model.dense_logits(images, size=(20, 20))
    assert logits.shape == (2, 6, 20, 20) and logits.abs().max() <= 10. + 1e-4
    assert ViCE.backbone_prefix('teacher') == 'backbone.'
    preds = model.predict(images)
    assert preds[0].pred_sem_seg.data.shape == (1, 32, 32)


def test_config_checks_and_errors():
    problems = ViCE.check_config(dict(decode_head=dict(num_classes=16), prototypes=dict(dim=8)))
    assert problems and problems[0][0] == 'decode_head.num_classes'
    with pytest.raises(ValueError, match='prototypes.dim'):
        build_tiny_vice(prototypes=dict(dim=16))
    model = build_tiny_vice()
    views, samples = fake_batch(2)
    with pytest.raises(ValueError, match='M >= 2 views'):
        model.loss(views[:1], samples)
    from mmpretrain.structures import DataSample
    with pytest.raises(ValueError, match="view_seg_maps\\['superpixels'\\]"):
        model.loss(views, [DataSample(), DataSample()])


def test_loss_at_head_resolution_equals_the_full_resolution_path():
    """ViCE.loss pools the full-resolution normalised map at the head's resolution
    (upsampled_unit_mean_pool): same loss and gradients as normalise(upsample(.)) pooled."""
    import copy
    model = build_tiny_vice(3)
    views, samples = fake_batch(2, num_views=3, size=32, cell=4)
    reference = copy.deepcopy(model)
    loss = model.loss(views, samples)['loss_swav']
    regions = torch.stack([ds.view_seg_maps['superpixels'] for ds in samples], 1).flatten(0, 1)
    reference.prototypes.normalize_()
    embeddings = reference.embed(torch.cat(views))
    assert embeddings.shape[-2:] == (32, 32)  # the explicit full-resolution map
    want = reference.swav_loss(embeddings, regions, reference.prototypes.weight, 3)
    torch.testing.assert_close(loss, want, atol=1e-5, rtol=1e-5)
    loss.backward()
    want.backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        if p.grad is not None or q.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-3, msg=name)
