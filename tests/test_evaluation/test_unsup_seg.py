# Copyright (c) mmdense contributors. All rights reserved.
"""Unsupervised segmentation scoring, its metric, and the train/test CLIs."""

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from mmdense.evaluation.functional import (cluster_confusion, hungarian_match,
                                           majority_match, match_and_score)
from mmdense.evaluation.metrics.unsup_seg_metric import UnsupervisedSegMetric



def _random_gt(num_classes, shape=(4, 16, 16), seed=0):
    return np.random.default_rng(seed).integers(0, num_classes, size=shape)


# ----------------------------------------------------------- functional


def test_permuted_labels_score_100_with_hungarian():
    num_classes = 5
    gt = _random_gt(num_classes)
    perm = np.array([3, 0, 4, 1, 2])
    pred = perm[gt]
    confusion = cluster_confusion(pred, gt, num_classes, num_classes)
    assert confusion.shape == (5, 5) and confusion.dtype == np.int64
    assert confusion.sum() == gt.size

    scores = match_and_score(confusion, mode='hungarian')
    assert scores['mIoU'] == pytest.approx(100.0)
    assert scores['pAcc'] == pytest.approx(100.0)
    np.testing.assert_allclose(scores['IoU'], 100.0)
    # cluster perm[c] is mapped back to class c
    np.testing.assert_array_equal(scores['mapping'][perm], np.arange(5))
    assert match_and_score(confusion)['mode'] == 'hungarian'  # auto, K == C


def test_ignored_pixels_are_skipped():
    num_classes = 3
    gt = _random_gt(num_classes)
    perm = np.array([2, 0, 1])
    pred = perm[gt]
    gt[:, :4] = 255
    pred[:, :4] = 7  # out of range, but on ignored pixels: not checked
    gt_torch = torch.from_numpy(gt).to(torch.uint8)
    confusion = cluster_confusion(torch.from_numpy(pred), gt_torch, 3, 3)
    assert confusion.sum() == (gt != 255).sum()
    scores = match_and_score(confusion, 'hungarian')
    assert scores['mIoU'] == pytest.approx(100.0)
    assert scores['pAcc'] == pytest.approx(100.0)
    # gt outside [0, C) is ignored as well
    gt[:, 4:6] = 3
    assert cluster_confusion(pred, gt, 3, 3).sum() == (gt < 3).sum()


def test_torch_and_numpy_confusions_agree():
    gt = _random_gt(4, seed=1)
    pred = _random_gt(6, seed=2)
    expected = np.zeros((6, 4), np.int64)
    np.add.at(expected, (pred.ravel(), gt.ravel()), 1)
    np.testing.assert_array_equal(cluster_confusion(pred, gt, 6, 4), expected)
    np.testing.assert_array_equal(
        cluster_confusion(torch.from_numpy(pred), torch.from_numpy(gt), 6, 4),
        expected)


def test_confusion_rejects_bad_input():
    gt = np.zeros((2, 3), np.int64)
    with pytest.raises(ValueError, match='-1'):
        cluster_confusion(np.full((2, 3), -1), gt, 4, 2)
    with pytest.raises(ValueError, match='9'):
        cluster_confusion(np.array([[0, 9, 1], [0, 0, 0]]), gt, 4, 2)
    with pytest.raises(ValueError, match=r'\(2, 3\).*\(3, 2\)'):
        cluster_confusion(np.zeros((2, 3), int), np.zeros((3, 2), int), 2, 2)
    with pytest.raises(TypeError, match='pred'):
        cluster_confusion(np.zeros((2, 3)), gt, 2, 2)


def test_overclustering_majority_vs_hungarian():
    num_classes = 3
    gt = _random_gt(num_classes)
    # each class c is split into clusters 2c and 2c + 1
    split = np.random.default_rng(3).integers(0, 2, size=gt.shape)
    pred = 2 * gt + split
    confusion = cluster_confusion(pred, gt, 2 * num_classes, num_classes)

    majority = match_and_score(confusion, 'majority')
    assert majority['mIoU'] == pytest.approx(100.0)
    assert majority['pAcc'] == pytest.approx(100.0)
    np.testing.assert_array_equal(majority['mapping'], [0, 0, 1, 1, 2, 2])
    assert match_and_score(confusion)['mode'] == 'majority'  # auto, K > C

    hungarian = match_and_score(confusion, 'hungarian')
    mapping = hungarian['mapping']
    assert (mapping >= 0).sum() == num_classes
    assert sorted(mapping[mapping >= 0]) == [0, 1, 2]
    assert hungarian['pAcc'] < 100 and hungarian['mIoU'] < 100
    # the larger half of every class is matched
    matched = confusion[mapping >= 0].sum()
    expected = sum(max(confusion[2 * c, c], confusion[2 * c + 1, c])
                   for c in range(num_classes))
    assert matched == expected
    assert hungarian['pAcc'] == pytest.approx(100 * expected / gt.size)


def test_hand_computed_scores():
    # clusters x classes
    confusion = np.array([[3, 1],
                          [2, 4]])
    scores = match_and_score(confusion, 'hungarian')
    np.testing.assert_array_equal(scores['mapping'], [0, 1])
    # class 0: tp 3, gt 5, pred 4 -> 3 / 6; class 1: tp 4, gt 5, pred 6 -> 4/7
    np.testing.assert_allclose(scores['IoU'], [50.0, 400 / 7])
    assert scores['mIoU'] == pytest.approx((50 + 400 / 7) / 2)
    assert scores['pAcc'] == pytest.approx(70.0)
    np.testing.assert_allclose(scores['Acc'], [60.0, 80.0])

    # the swapped assignment is better when clusters are swapped
    swapped = match_and_score(confusion[::-1], 'hungarian')
    np.testing.assert_array_equal(swapped['mapping'], [1, 0])
    assert swapped['pAcc'] == pytest.approx(70.0)


def test_absent_classes_and_unmatched_clusters():
    # class 2 has neither gt pixels nor predictions -> nan, left out of mIoU
    confusion = np.array([[5, 0, 0],
                          [0, 5, 0],
                          [0, 0, 0]])
    scores = match_and_score(confusion, 'hungarian')
    assert np.isnan(scores['IoU'][2])
    assert scores['mIoU'] == pytest.approx(100.0)

    np.testing.assert_array_equal(majority_match(confusion), [0, 1, -1])
    # K > C hungarian: the unmatched cluster's pixels count as wrong
    confusion = np.array([[4, 0], [0, 4], [2, 0]])
    np.testing.assert_array_equal(hungarian_match(confusion), [0, 1, -1])
    scores = match_and_score(confusion, 'hungarian')
    assert scores['pAcc'] == pytest.approx(80.0)
    np.testing.assert_allclose(scores['IoU'], [400 / 6, 100.0])
    with pytest.raises(ValueError, match='mode'):
        match_and_score(confusion, 'greedy')


# ----------------------------------------------------------- metric


def _sample(pred, gt):
    """A data sample in the dict layout mmengine's Evaluator hands over."""
    return dict(
        pred_sem_seg=dict(data=torch.as_tensor(pred)[None]),
        gt_sem_seg=dict(data=torch.as_tensor(gt)[None]))


def test_metric_through_evaluator_sums_batches():
    perm = torch.tensor([1, 2, 0])
    gts = [torch.from_numpy(_random_gt(3, (8, 8), seed=s)) for s in range(4)]
    preds = [perm[gt] for gt in gts]
    # one mistake in the last image, one ignored pixel in the first
    preds[3][0, 0] = perm[(gts[3][0, 0] + 1) % 3]
    gts[0][0, 0] = 255

    metric = UnsupervisedSegMetric(num_classes=3)
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dict(classes=('sky', 'tree', 'road'))
    for i in (0, 2):
        samples = [_sample(preds[i], gts[i]), _sample(preds[i + 1], gts[i + 1])]
        evaluator.process(samples)
    assert len(metric.results) == 2
    assert all(r.shape == (3, 3) for r in metric.results)

    results = evaluator.evaluate(4)
    assert set(results) == {'unsup_seg/mIoU', 'unsup_seg/pAcc'}
    assert results['unsup_seg/pAcc'] == round(100 * (254 / 255), 2)
    assert 99 < results['unsup_seg/mIoU'] < 100
    assert isinstance(results['unsup_seg/mIoU'], float)


def test_metric_overclustering_and_prefix():
    gt = torch.from_numpy(_random_gt(2, (8, 8)))
    pred = 2 * gt + (torch.arange(8) % 2)[None]
    metric = UnsupervisedSegMetric(
        num_classes=2, num_clusters=4, prefix='seg')
    metric.process({}, [_sample(pred, gt)])
    assert metric.evaluate(1) == {'seg/mIoU': 100.0, 'seg/pAcc': 100.0}


def test_metric_built_from_registry():
    from mmdense.registry import METRICS
    metric = METRICS.build(
        dict(type='UnsupervisedSegMetric', num_classes=4, num_clusters=8))
    assert isinstance(metric, UnsupervisedSegMetric)
    assert metric.matching == 'auto' and metric.ignore_index == 255


def test_metric_size_mismatch_names_both_shapes():
    metric = UnsupervisedSegMetric(num_classes=2)
    sample = _sample(torch.zeros(4, 6, dtype=torch.long),
                     torch.zeros(8, 12, dtype=torch.long))
    with pytest.raises(ValueError, match=r'\(1, 4, 6\).*\(1, 8, 12\)'):
        metric.process({}, [sample])


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_classes=1), 'num_classes'),
    (dict(num_classes=2.0), 'num_classes'),
    (dict(num_classes=3, num_clusters=0), 'num_clusters'),
    (dict(num_classes=3, num_clusters=2, matching='hungarian'),
     'num_clusters'),
    (dict(num_classes=3, matching='greedy'), 'matching'),
    (dict(num_classes=3, class_names=['a']), 'class_names'),
])
def test_metric_bad_args(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        UnsupervisedSegMetric(**kwargs)


# ----------------------------------------------------------- tools
