# Copyright (c) mmdense contributors. All rights reserved.
"""DenseKMeansMetric: k-means on predict's dense_feats, Hungarian matching."""
import pytest
import torch

from mmdense.evaluation.metrics import DenseKMeansMetric


def _sample(feats, gt):
    return dict(dense_feats=feats, gt_sem_seg=dict(data=gt[None]))


def test_separable_features_score_100_and_noise_does_not():
    gen = torch.Generator().manual_seed(0)
    centres = torch.eye(3, 8)
    samples, noisy = [], []
    for _ in range(4):
        gt = torch.randint(0, 3, (8, 8), generator=gen)
        feats = centres[gt].permute(2, 0, 1) * 5 + 0.01 * torch.randn(8, 8, 8, generator=gen)
        samples.append(_sample(feats, gt))
        noisy.append(_sample(torch.randn(8, 8, 8, generator=gen), gt))
    metric = DenseKMeansMetric(num_classes=3, seeds=1)
    metric.process(None, samples)
    scores = metric.compute_metrics(metric.results)
    assert scores['mIoU'] == pytest.approx(100.) and scores['pAcc'] == pytest.approx(100.)
    metric = DenseKMeansMetric(num_classes=3, seeds=1)
    metric.process(None, noisy)
    assert metric.compute_metrics(metric.results)['mIoU'] < 60.


def test_needs_dense_features():
    metric = DenseKMeansMetric(num_classes=3)
    with pytest.raises(KeyError, match='dense_feats'):
        metric.process(None, [dict(gt_sem_seg=dict(data=torch.zeros(1, 4, 4)))])
    with pytest.raises(ValueError, match='num_classes'):
        DenseKMeansMetric(num_classes=1)
