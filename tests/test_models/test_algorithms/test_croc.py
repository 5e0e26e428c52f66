# Copyright (c) mmdense contributors. All rights reserved.
"""CrOC's algorithm: losses, teacher, positions of flipped views, interface."""
import pytest
import torch

from mmdense.models.utils import CrossViewOnlineClustering
from .croc_tiny import build_tiny_croc, tiny_croc_cfg, view_pair_batch


def test_loss_trains_the_student_only_and_updates_both_centres():
    model = build_tiny_croc()
    views, samples = view_pair_batch()
    losses = model.loss(views, samples)
    assert set(losses) == {'loss_global', 'loss_dense', 'num_centroids'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert 0 < losses['num_centroids'] <= 4 * 4  # heads x K_start per image
    (losses['loss_global'] + losses['loss_dense']).backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert any(n.startswith('backbone.layers.0.') for n in grads)
    assert {'head.last_layers.0.weight_v', 'head.last_layers.1.weight_v'} <= grads
    assert not any(n.startswith('teacher.') for n in grads)
    assert model.global_loss.centering.center.abs().sum() > 0
    assert model.dense_loss.centering.center.abs().sum() > 0
    assert model.global_loss.out_dim == 48 and model.dense_loss.out_dim == 24


def test_dense_loss_weight_scales_the_dense_term():
    views, samples = view_pair_batch()
    torch.manual_seed(0)
    one = build_tiny_croc(dense_loss_weight=1.).loss(views, samples)
    torch.manual_seed(0)
    half = build_tiny_croc(dense_loss_weight=.5).loss(views, samples)
    torch.testing.assert_close(half['loss_dense'], one['loss_dense'] / 2)
    torch.testing.assert_close(half['loss_global'], one['loss_global'])


def test_global_loss_weight_zero_trains_the_dense_term_alone():
    views, samples = view_pair_batch()
    torch.manual_seed(0)
    one = build_tiny_croc().loss(views, samples)
    torch.manual_seed(0)
    model = build_tiny_croc(global_loss_weight=0.)
    dense_only = model.loss(views, samples)
    torch.testing.assert_close(dense_only['loss_dense'], one['loss_dense'])
    assert float(dense_only['loss_global']) == 0.
    (dense_only['loss_global'] + dense_only['loss_dense']).backward()
    # the global head's own last layer gets no gradient; the shared trunk still learns
    assert model.head.last_layers[0].weight_v.grad.abs().sum() == 0
    assert model.backbone.layers[-1].ffn.layers[1].weight.grad.abs().sum() > 0


def test_local_views_join_the_global_loss_through_the_student_only():
    """Multi-crop: local views add student [CLS] terms; clustering and dense loss are unchanged."""
    views, samples = view_pair_batch()
    gen = torch.Generator().manual_seed(3)
    local = [torch.randn(4, 3, 16, 16, generator=gen).requires_grad_() for _ in range(3)]
    for i, sample in enumerate(samples):  # geometry rows of the local views follow the globals'
        sample.view_crops = sample.view_crops + [[0, 0, 16, 16]] * 3
        sample.view_flips = sample.view_flips + [bool(i % 2)] * 3
    torch.manual_seed(0)
    plain = build_tiny_croc().loss(views, samples)
    torch.manual_seed(0)
    model = build_tiny_croc()
    calls = []
    model.backbone.register_forward_hook(lambda m, args, out: calls.append(args[0].shape))
    multi = model.loss(views + local, samples)
    # the globals in one call, the three equally sized locals in a second one
    assert calls == [(8, 3, 32, 32), (12, 3, 16, 16)]
    torch.testing.assert_close(multi['loss_dense'], plain['loss_dense'])
    assert not torch.isclose(multi['loss_global'], plain['loss_global'])
    # by hand: the student's heads on the local [CLS] join the two-view loss's terms
    with torch.no_grad():
        torch.manual_seed(0)
        ref = build_tiny_croc()
        ref.update_teacher()
        both = torch.cat(views)
        teacher_out = ref.teacher.module.head(ref.teacher.module.backbone(both)[-1][:, 0], 0)
        student_cls = [ref.backbone(both)[-1][:, 0], ref.backbone(torch.cat(local))[-1][:, 0]]
        student_out = ref.head(torch.cat(student_cls), 0)
        expected = ref.global_loss(student_out.view(5, 4, -1), teacher_out.view(2, 4, -1))
    torch.testing.assert_close(multi['loss_global'], expected)
    multi['loss_global'].backward()
    assert not any(p.grad is not None for n, p in model.named_parameters()
                   if n.startswith('teacher.'))
    # the local views are the student's: each one gets a gradient
    assert all(view.grad is not None and view.grad.abs().sum() > 0 for view in local)


def test_local_views_must_not_be_larger_than_the_global_views():
    views, samples = view_pair_batch()
    big = torch.randn(4, 3, 48, 48)
    with pytest.raises(ValueError, match=r'views \[2\] are larger than the global views'):
        build_tiny_croc().loss(views + [big], samples)


def test_global_views_of_different_sizes_are_refused():
    views, samples = view_pair_batch()
    with pytest.raises(ValueError, match='two global views differ in shape'):
        build_tiny_croc().loss([views[0], views[1][..., :16, :16]], samples)
    with pytest.raises(ValueError, match='two global views'):
        build_tiny_croc().loss(views[:1], samples)


def test_teacher_has_no_stochastic_depth():
    model = build_tiny_croc(backbone=dict(drop_path_rate=0.3))
    student = [m.drop_prob for m in model.backbone.modules() if hasattr(m, 'drop_prob')]
    teacher = [m.drop_prob for m in model.teacher.module.modules() if hasattr(m, 'drop_prob')]
    assert max(student) > 0 and teacher and max(teacher) == 0


@pytest.mark.parametrize('source', ['queries', 'keys', 'values', 'last'])
def test_every_token_source_clusters_per_head(source):
    model = build_tiny_croc(token_source=source)
    images = torch.randn(4, 3, 32, 32)
    tokens, qkv = model.teacher.module.backbone.forward_with_qkv(images)
    assert tokens.shape == (4, 17, 32) and qkv.shape == (3, 4, 4, 17, 8)
    patches, cls = model._clustering_tokens(tokens, qkv, batch=2)
    assert patches.shape == (2, 4, 2, 16, 8) and cls.shape == (2, 4, 2, 8)
    # view 2 of image 0 is row 2 of the view-major batch
    expected = (tokens[2].view(17, 4, 8).transpose(0, 1) if source == 'last'
                else qkv[('queries', 'keys', 'values').index(source), 2])
    torch.testing.assert_close(patches[0, :, 1], expected[:, 1:])
    torch.testing.assert_close(cls[0, :, 1], expected[:, 0])


def test_flipped_view_tokens_lie_at_their_place_in_the_original_frame():
    """View 2 is view 1 mirrored: its first column is the crop's right edge,
    and a flip-equivariant network's tokens of both views fall in the same
    clusters at the same original-frame places (only with the flip known)."""
    crops = torch.tensor([[[0., 8., 64., 24.], [0., 8., 64., 24.]]])
    grid = (2, 8)  # a wide view: the spatial clusters are its left and right halves
    pos = build_tiny_croc().token_positions(crops, torch.tensor([[False, True]]), grid)
    assert pos.shape == (1, 2, 16, 2)
    torch.testing.assert_close(pos[0, 1, 0], torch.tensor([60., 12.]))  # right edge, top row
    torch.testing.assert_close(pos[0, 0, 0], torch.tensor([4., 12.]))
    mirrored = pos[0, 0].view(2, 8, 2).flip(1).reshape(16, 2)
    torch.testing.assert_close(pos[0, 1], mirrored)

    # all tokens alike semantically: the clusters are spatial; view 2 = mirrored view 1
    gen = torch.Generator().manual_seed(0)
    view1 = torch.ones(1, 2, 16, 8) + 0.05 * torch.randn(1, 2, 16, 8, generator=gen)
    view2 = view1.view(1, 2, 2, 8, 8).flip(3).reshape(1, 2, 16, 8)
    tokens = torch.stack([view1, view2], dim=2)  # (B, H, V, N, d)
    cls = torch.ones(1, 2, 2, 8)
    clustering = CrossViewOnlineClustering(num_seeds=4, max_eligible=2)

    def agreement(flips):
        torch.manual_seed(0)  # the same seed draws
        positions = build_tiny_croc().token_positions(crops, torch.tensor([flips]), grid)
        lab = clustering(tokens, cls, positions).weights.argmax(-1)  # (B, H, V, N)
        unmirrored = lab[:, :, 1].view(1, 2, 2, 8).flip(3).reshape(1, 2, 16)
        return (lab[:, :, 0] == unmirrored).float().mean().item()

    assert agreement([False, True]) == 1.
    assert agreement([False, False]) < 0.5  # the flip ignored: the twins land apart


def test_extract_dense_is_the_teachers_patch_map():
    model = build_tiny_croc()
    images = torch.randn(2, 3, 48, 32)
    feats = model.extract_dense(images)
    assert feats.shape == (2, 32, 6, 4)
    tokens = model.teacher.module.backbone(images)[-1]
    torch.testing.assert_close(feats[:, :, 1, 2], tokens[:, 1 + 1 * 4 + 2])
    assert model.extract_dense(images, 'backbone').shape == feats.shape
    with pytest.raises(ValueError, match='stage'):
        model.extract_dense(images, 'neck')
    assert model.num_clusters is None
    assert model.backbone_prefix() == 'teacher.module.backbone.'


def test_predict_gives_dense_features_for_kmeans():
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    model = build_tiny_croc().eval()
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=torch.zeros(1, 32, 32, dtype=torch.long))
    out = model.predict(torch.randn(1, 3, 32, 32), [sample])
    assert out[0].dense_feats.shape == (32, 4, 4)


@pytest.mark.parametrize('override, key', [
    (dict(token_source='tokens'), 'token_source'),
    (dict(backbone=dict(out_type='featmap')), 'backbone.out_type'),
    (dict(head=dict(out_dims=512)), 'head.out_dims'),
    (dict(dense_loss=dict(out_dim=7)), 'dense_loss.out_dim'),
])
def test_config_problems_are_named(override, key):
    from mmdense.models.algorithms import CrOC
    cfg = tiny_croc_cfg(**override)
    assert [k for k, _ in CrOC.check_config(cfg)] == [key]
    with pytest.raises(ValueError, match=key.replace('.', r'\.')):
        build_tiny_croc(**override)


def test_a_batch_without_matched_clusters_still_trains():
    """No centroid anywhere: the dense loss is 0 with a graph and the centre stays."""
    model = build_tiny_croc()
    views, samples = view_pair_batch()
    model.clustering.forward = _no_valid_cluster(model.clustering.forward)
    losses = model.loss(views, samples)
    assert losses['loss_dense'].item() == 0 and losses['num_centroids'].item() == 0
    (losses['loss_global'] + losses['loss_dense']).backward()
    assert model.dense_loss.centering.center.abs().sum() == 0


def _no_valid_cluster(forward):
    def wrapped(*args, **kwargs):
        out = forward(*args, **kwargs)
        return out._replace(valid=torch.zeros_like(out.valid))
    return wrapped
