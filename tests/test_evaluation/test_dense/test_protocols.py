# Copyright (c) mmdense contributors. All rights reserved.
"""faiss k-means, Hungarian / many-to-one matching and the object protocol on
planted (synthetic) clusterings."""
import numpy as np
import pytest
import torch

from mmdense.evaluation.dense import (DenseFeatureBank, assign_dense, assign_dense_batch,
                                      assignment_batches, dense_confusion, kmeans_eval,
                                      object_embeddings, object_kmeans_eval, pca_project)
from mmdense.evaluation.dense import protocols
from mmdense.evaluation.functional.kmeans import (kmeans_assign, kmeans_fit,
                                                  kmeans_fit_predict)
from mmdense.evaluation.functional.unsup_seg import (cluster_confusion,
                                                     match_and_score)


def _centres(num: int, dim: int, seed: int = 0) -> np.ndarray:
    """``num`` unit vectors, pairwise far apart (orthonormal when
    ``num <= dim``)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q[:num].astype(np.float32)


def _planted(num_classes=5, per_class=120, dim=16, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), per_class)
    rng.shuffle(labels)
    feats = _centres(num_classes, dim, seed)[labels]
    feats = feats + noise * rng.normal(size=feats.shape).astype(np.float32)
    return feats.astype(np.float32), labels


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_kmeans_recovers_planted_clusters_with_hungarian(seed):
    feats, labels = _planted(seed=seed)
    perm = np.array([3, 0, 4, 1, 2])  # gt ids are a permutation of planted
    gt = perm[labels]
    pred, centroids = kmeans_fit_predict(feats, 5, seed=seed, niter=20)
    assert pred.shape == labels.shape and pred.dtype == np.int64
    assert centroids.shape == (5, 16) and centroids.dtype == np.float32
    scores = match_and_score(cluster_confusion(pred, gt, 5, 5), 'hungarian')
    assert scores['mIoU'] == pytest.approx(100.0)
    assert scores['pAcc'] == pytest.approx(100.0)
    # the mapping sends every cluster to the class of its members
    np.testing.assert_array_equal(scores['mapping'][pred], gt)


def test_kmeans_fit_subsample_assigns_all_and_validates():
    feats, labels = _planted(num_classes=3, per_class=400)
    centroids = kmeans_fit(feats, 3, seed=0, max_fit_samples=60)
    pred = kmeans_assign(feats, centroids)
    assert pred.shape == (1200, )
    scores = match_and_score(cluster_confusion(pred, labels, 3, 3))
    assert scores['mIoU'] == pytest.approx(100.0)
    # same seed -> same centroids, torch input accepted
    again = kmeans_fit(torch.from_numpy(feats), 3, seed=0, max_fit_samples=60)
    np.testing.assert_allclose(again, centroids)
    with pytest.raises(ValueError, match='at least k=10'):
        kmeans_fit(feats[:5], 10)
    with pytest.raises(ValueError, match=r'\(N, D\)'):
        kmeans_fit(feats[0], 2)
    with pytest.raises(ValueError, match='nan or inf'):
        kmeans_fit(np.full((10, 2), np.nan, np.float32), 2)
    with pytest.raises(ValueError, match='init'):
        kmeans_fit(feats, 3, init='bogus')


def test_many_to_one_matching_on_a_known_overclustering():
    # 4 clusters over 3 classes, counts per (cluster, class):
    #   c0: class0 x10 | c1: class0 x2, class1 x8 | c2: class2 x6
    #   c3: class1 x1, class2 x3
    pairs = [(0, 0, 10), (1, 0, 2), (1, 1, 8), (2, 2, 6), (3, 1, 1),
             (3, 2, 3)]
    pred = np.concatenate([np.full(n, k) for k, _, n in pairs])
    gt = np.concatenate([np.full(n, c) for _, c, n in pairs])
    gt = np.concatenate([gt, [255, 255]])  # ignored pixels
    pred = np.concatenate([pred, [3, 0]])
    scores = match_and_score(cluster_confusion(pred, gt, 4, 3))  # auto
    assert scores['mode'] == 'majority'
    np.testing.assert_array_equal(scores['mapping'], [0, 1, 2, 2])
    # mapped: pred0 = {c0: 10}, pred1 = {c0: 2, c1: 8}, pred2 = {c1: 1, c2: 9}
    np.testing.assert_allclose(scores['IoU'],
                               [100 * 10 / 12, 100 * 8 / 11, 100 * 9 / 10])
    assert scores['pAcc'] == pytest.approx(100 * 27 / 30)
    # an exact over-clustering (2 clusters per class) scores 100
    pred = np.arange(60) % 6
    scores = match_and_score(cluster_confusion(pred, pred // 2, 6, 3))
    np.testing.assert_array_equal(scores['mapping'], [0, 0, 1, 1, 2, 2])
    assert scores['mIoU'] == pytest.approx(100.0)


def _planted_bank(num_images=6, num_classes=4, sub=1, h=6, w=6, scale=2,
                  dim=12, seed=0):
    """Feature maps whose pixels sit on their class's (sub-)centre; labels
    at ``scale`` x the feature resolution (nearest)."""
    rng = np.random.default_rng(seed)
    centres = _centres(num_classes * sub, dim, seed)
    bank = DenseFeatureBank()
    for _ in range(num_images):
        cls = rng.integers(num_classes, size=(h, w))
        which = cls * sub + rng.integers(sub, size=(h, w))
        feat = centres[which] + 0.02 * rng.normal(size=(h, w, dim))
        feat = torch.nn.functional.normalize(
            torch.from_numpy(feat.astype(np.float32)).permute(2, 0, 1), dim=0)
        bank.features.append(feat)
        gt = np.kron(cls, np.ones((scale, scale), np.int64)).astype(np.uint8)
        gt[0, 0] = 255  # an ignored pixel
        bank.labels.append(gt)
        bank.img_paths.append('')
    return bank


def test_assign_dense_matches_upsampled_nearest_centroid():
    bank = _planted_bank(num_images=1)
    feat = bank.features[0]
    centroids = torch.from_numpy(_centres(4, 12))
    pred = assign_dense(feat, centroids, (12, 12))
    up = torch.nn.functional.interpolate(feat[None], size=(12, 12),
                                         mode='bilinear',
                                         align_corners=False)[0]
    dist = torch.cdist(up.flatten(1).t(), centroids)
    assert torch.equal(pred.flatten(), dist.argmin(1))


def _assign_one_image(feature, centroids, size):
    """The former per-image assignment (one einsum and argmax per image)."""
    scores = torch.einsum('kd,dhw->khw', centroids, feature)
    scores -= 0.5 * (centroids * centroids).sum(1)[:, None, None]
    if tuple(scores.shape[-2:]) != tuple(size):
        scores = torch.nn.functional.interpolate(scores[None], size=tuple(size),
                                                 mode='bilinear', align_corners=False)[0]
    return scores.argmax(0)


def test_batched_assignment_equals_the_per_image_one():
    gen = torch.Generator().manual_seed(0)
    feats = torch.nn.functional.normalize(torch.randn(5, 12, 6, 7, generator=gen), dim=1)
    centroids = torch.nn.functional.normalize(torch.randn(9, 12, generator=gen), dim=1)
    batched = assign_dense_batch(feats, centroids, (18, 21))
    assert batched.shape == (5, 18, 21) and batched.dtype == torch.int64
    for feat, pred in zip(feats, batched):
        assert torch.equal(pred, _assign_one_image(feat, centroids, (18, 21)))
        assert torch.equal(pred, assign_dense(feat, centroids, (18, 21)))
    # at feature resolution (no upsampling) too
    same = assign_dense_batch(feats, centroids, (6, 7))
    for feat, pred in zip(feats, same):
        assert torch.equal(pred, _assign_one_image(feat, centroids, (6, 7)))


def test_dense_confusion_batches_equal_sizes_only(monkeypatch):
    bank = _planted_bank(num_images=7)
    # two images of another feature / label size in the middle
    other = _planted_bank(num_images=2, h=4, w=5, seed=1)
    bank.features[3:3] = other.features
    bank.labels[3:3] = other.labels
    assert list(assignment_batches(bank, 4, batch_size=64)) == [(0, 3), (3, 5), (5, 9)]
    assert list(assignment_batches(bank, 4, batch_size=2)) == [(0, 2), (2, 3), (3, 5), (5, 7),
                                                               (7, 9)]
    # the memory cap: 4 clusters x 12 x 12 pixels -> 2 images per batch
    monkeypatch.setattr(protocols, 'ASSIGN_MAX_SCORES', 2 * 4 * 12 * 12)
    assert list(assignment_batches(bank, 4, batch_size=64))[0] == (0, 2)
    monkeypatch.undo()
    centroids = torch.from_numpy(_centres(4, 12))
    reference = np.zeros((4, 4), np.int64)
    for feat, gt in zip(bank.features, bank.labels):
        pred = _assign_one_image(feat, centroids, gt.shape)
        reference += cluster_confusion(pred, torch.from_numpy(gt.astype(np.int64)), 4, 4)
    for batch_size in (1, 3, 64):
        np.testing.assert_array_equal(
            dense_confusion(bank, centroids, 4, batch_size=batch_size), reference)


def test_kmeans_eval_results_do_not_depend_on_the_batch_size(monkeypatch):
    bank = _planted_bank(num_images=5, sub=2, seed=3)
    fitted = {}

    def fit_once(feats, k, seed=0, **kwargs):  # both passes get the same centroids
        if (k, seed) not in fitted:
            fitted[k, seed] = kmeans_fit(feats, k, seed=seed, **kwargs)
        return fitted[k, seed]

    monkeypatch.setattr(protocols, 'kmeans_fit', fit_once)
    one = kmeans_eval(bank, num_classes=4, num_clusters=[4, 6], seeds=2, niter=5,
                      progress=False, device='cpu', batch_size=1)
    many = kmeans_eval(bank, num_classes=4, num_clusters=[4, 6], seeds=2, niter=5,
                       progress=False, device='cpu', batch_size=64)
    assert one == many


def test_kmeans_eval_recovers_planted_dense_clusters():
    bank = _planted_bank()
    results = kmeans_eval(bank, num_classes=4, seeds=3, niter=20,
                          progress=False)
    assert len(results) == 1
    res = results[0]
    assert res['num_clusters'] == 4 and res['matching'] == 'hungarian'
    assert [run['seed'] for run in res['runs']] == [0, 1, 2]
    assert res['mIoU'] == pytest.approx(100.0)
    assert res['mIoU_std'] == pytest.approx(0.0)


def test_kmeans_eval_overclustering_uses_majority():
    bank = _planted_bank(sub=2)  # each class = 2 far-apart sub-clusters
    res = kmeans_eval(bank, num_classes=4, num_clusters=[8], seeds=[5],
                      niter=20, progress=False)[0]
    assert res['num_clusters'] == 8 and res['matching'] == 'majority'
    assert res['mIoU'] == pytest.approx(100.0)
    assert sorted(res['runs'][0]['mapping']) == [0, 0, 1, 1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match='hungarian'):
        kmeans_eval(bank, 4, num_clusters=3, matching='hungarian',
                    progress=False)


def _object_scenes(num_images=12, num_classes=4, size=32, fsize=8, dim=8,
                   seed=0):
    """Background class 0 everywhere, one or two square objects of classes
    1..C-1 per image; features at 1/4 resolution sit on class centres."""
    rng = np.random.default_rng(seed)
    centres = _centres(num_classes, dim, seed)
    feats, sals, gts = [], [], []
    step = size // fsize
    for _ in range(num_images):
        cls_f = np.zeros((fsize, fsize), np.int64)
        sal_f = np.zeros((fsize, fsize), np.int64)
        for obj in range(1, int(rng.integers(1, 3)) + 1):
            y, x = (obj - 1) * 4, int(rng.integers(0, 4))
            cls_f[y:y + 3, x:x + 3] = rng.integers(1, num_classes)
            sal_f[y:y + 3, x:x + 3] = obj
        feat = centres[cls_f] + 0.02 * rng.normal(size=(fsize, fsize, dim))
        feats.append(torch.from_numpy(feat.astype(np.float32)).permute(
            2, 0, 1))
        kron = np.ones((step, step), np.int64)
        sals.append(np.kron(sal_f, kron))
        gts.append(np.kron(cls_f, kron).astype(np.uint8))
    return feats, sals, gts


def test_object_embeddings_are_object_means():
    feat = torch.zeros(3, 4, 4)
    feat[:, :2, :2] = torch.tensor([1., 2., 3.])[:, None, None]
    sal = np.zeros((4, 4), np.int64)
    sal[:2, :2] = 7
    emb, ids = object_embeddings(feat, sal)
    assert ids.tolist() == [7]
    torch.testing.assert_close(emb, torch.tensor([[1., 2., 3.]]))
    emb, ids = object_embeddings(feat, np.zeros((4, 4), bool))
    assert emb.shape == (0, 3) and ids.size == 0


@pytest.mark.parametrize('pca', [None, 2])
def test_object_kmeans_recovers_planted_objects(pca):
    feats, sals, gts = _object_scenes()
    res = object_kmeans_eval(feats, sals, gts, num_classes=4, seeds=2,
                             niter=20, pca_dim=pca, whiten=pca is not None)[0]
    assert res['mode'] == 'object-kmeans' and res['matching'] == 'hungarian'
    assert res['num_objects'] == sum(len(np.unique(s)) - 1 for s in sals)
    assert res['mIoU'] == pytest.approx(100.0)
    # over-clustering: background + 6 object clusters, majority matching
    res = object_kmeans_eval(feats, sals, gts, num_classes=4,
                             num_clusters=7, seeds=1, niter=20)[0]
    assert res['matching'] == 'majority' and res['mIoU'] == pytest.approx(
        100.0)
    with pytest.raises(ValueError, match='cannot form'):
        object_kmeans_eval(feats[:1], sals[:1], gts[:1], num_classes=4,
                           num_clusters=50)


def test_pca_whitening_gives_unit_variance():
    x = np.random.default_rng(0).normal(size=(200, 6)) * [5, 3, 1, 1, 1, 1]
    proj = pca_project(x, 3, whiten=True)
    assert proj.shape == (200, 3)
    np.testing.assert_allclose(proj.std(0, ddof=1), 1.0, rtol=1e-4)



def test_channels_last_models_give_the_same_features():
    """The analysis tools store convolutions channels-last (faster on CPU);
    the features equal the NCHW path's up to float rounding."""
    import copy

    from mmdense.evaluation.dense.features import dense_features, uses_channels_last
    from tests.harness.slotcon_tiny import build_tiny_slotcon
    plain = build_tiny_slotcon().eval()
    fast = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    assert uses_channels_last(fast) and not uses_channels_last(plain)
    images = torch.randn(2, 3, 40, 48)
    for stage in ('neck', 'backbone'):
        ref, got = dense_features(plain, images, stage), dense_features(fast, images, stage)
        assert got.is_contiguous()
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)
