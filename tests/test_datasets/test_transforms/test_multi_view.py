# Copyright (c) mmdense contributors. All rights reserved.
"""Crop/flip geometry of the two-view transform, and inverse augmentation.

The multi-view generalisation (groups, maps, shared centre, bit-identity with
the former two-view crop) is tested in ``test_multi_view_groups.py``.
"""
import numpy as np
import pytest
import torch

from mmdense.datasets.transforms import (PackMultiViewInputs, TwoViewRandomResizedCrop,
                                         ViewwisePipeline)
from mmdense.models.utils import inverse_augment
from mmdense.structures import pairwise_overlap_boxes, stack_view_geometry


def derived_view_boxes(results: dict) -> np.ndarray:
    """``(2, 4)``: what the transform used to store as ``view_boxes``, now derived."""
    assert 'view_boxes' not in results  # pairwise boxes are derived, not stored
    return np.stack(pairwise_overlap_boxes(results['view_crops'], results['view_flips'], 0, 1))


def coordinate_image(height: int = 256, width: int = 256) -> np.ndarray:
    """uint8 image whose channel 0 is the column index and channel 1 the row index."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs, ys, np.zeros_like(xs)], axis=-1).astype(np.uint8)


def sample_view(view: np.ndarray, u: float, v: float) -> np.ndarray:
    """Value of ``view`` at normalised position (u, v), nearest pixel centre."""
    h, w = view.shape[:2]
    col = int(np.clip(np.floor(u * w), 0, w - 1))
    row = int(np.clip(np.floor(v * h), 0, h - 1))
    return view[row, col].astype(float)


@pytest.mark.parametrize('seed', range(12))
def test_recorded_boxes_point_to_the_same_original_pixels(seed):
    transform = TwoViewRandomResizedCrop(size=64, scale=(0.2, 1.0), interpolation='bilinear',
                                         seed=seed)
    results = transform(dict(img=coordinate_image()))
    views, boxes, flips = results['img'], derived_view_boxes(results), results['view_flips']
    assert len(views) == 2 and views[0].shape == (64, 64, 3)
    assert boxes.shape == (2, 4) and boxes.dtype == np.float32
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
    # the intersection in original pixels, from the recorded crops
    crops = results['view_crops']
    inter = np.concatenate([crops[:, :2].max(0), crops[:, 2:].min(0)])
    for frac in ((0.5, 0.5), (0.25, 0.75), (0.8, 0.2)):
        # a point of the intersection in original pixels ...
        ox = inter[0] + frac[0] * (inter[2] - inter[0])
        oy = inter[1] + frac[1] * (inter[3] - inter[1])
        for i in range(2):
            # ... found in view i through its recorded box (flip included)
            x1, y1, x2, y2 = boxes[i]
            fx = 1 - frac[0] if flips[i] else frac[0]
            value = sample_view(views[i], x1 + fx * (x2 - x1), y1 + frac[1] * (y2 - y1))
            scale = (crops[i, 2] - crops[i, 0]) / 64  # original pixels per view pixel
            tol = 1.0 + scale
            assert abs(value[0] - ox) <= tol, (i, value, ox, flips[i])
            assert abs(value[1] - oy) <= tol, (i, value, oy)


def test_flip_is_recorded_and_mirrors_the_box():
    img = coordinate_image()
    seen = set()
    for seed in range(20):
        res = TwoViewRandomResizedCrop(size=32, seed=seed, flip_prob=0.5)(dict(img=img.copy()))
        for i in range(2):
            flipped = bool(res['view_flips'][i])
            seen.add(flipped)
            view = res['img'][i].astype(int)
            # columns increase left to right unless the view is mirrored
            increasing = view[16, -2, 0] > view[16, 1, 0]
            assert increasing != flipped
    assert seen == {True, False}


def test_never_an_empty_intersection():
    # disjoint crops are likely with tiny scales: the transform must still overlap
    transform = TwoViewRandomResizedCrop(size=16, scale=(0.01, 0.02), min_overlap=0.5,
                                         max_tries=2, seed=3)
    for _ in range(50):
        res = transform(dict(img=coordinate_image(100, 100)))
        boxes = derived_view_boxes(res)
        assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
        assert np.all(boxes >= -1e-6) and np.all(boxes <= 1 + 1e-6)


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match='scale'):
        TwoViewRandomResizedCrop(scale=(0.5, 0.1))
    with pytest.raises(ValueError, match='interpolation'):
        TwoViewRandomResizedCrop(interpolation='lanczos9')


def test_viewwise_pipeline_and_packing():
    solarize_all = [dict(type='Solarize', thr=0, prob=1.0)]
    pipeline = ViewwisePipeline([[], solarize_all])
    res = TwoViewRandomResizedCrop(size=32, seed=0)(dict(img=coordinate_image()))
    before = [v.copy() for v in res['img']]
    res = pipeline(res)
    np.testing.assert_array_equal(res['img'][0], before[0])
    np.testing.assert_array_equal(res['img'][1], 255 - before[1])
    packed = PackMultiViewInputs()(res)
    assert [tuple(t.shape) for t in packed['inputs']] == [(3, 32, 32), (3, 32, 32)]
    boxes, flips = stack_view_geometry([packed['data_samples']] * 3)
    assert boxes.shape == (3, 2, 4) and flips.shape == (3, 2) and flips.dtype == torch.bool
    # stack_view_geometry now gives the crops; the pairwise boxes are derived from them
    crops = boxes
    assert torch.equal(crops[0], torch.from_numpy(res['view_crops']))
    box1, box2 = pairwise_overlap_boxes(crops, flips, 0, 1)
    assert box1.shape == (3, 4) and box1.dtype == torch.float32
    np.testing.assert_array_equal(torch.stack([box1[0], box2[0]]).numpy(), derived_view_boxes(res))
    with pytest.raises(ValueError, match='list of 2 views'):
        pipeline(dict(img=before[0]))


@pytest.mark.parametrize('seed', range(6))
def test_inverse_augmentation_aligns_two_views(seed):
    """Coordinate maps of two views, inverse-augmented, show the same region."""
    res = TwoViewRandomResizedCrop(size=64, scale=(0.3, 1.0), interpolation='bilinear',
                                   seed=seed)(dict(img=coordinate_image()))
    maps = [torch.from_numpy(v[..., :2].astype(np.float32)).permute(2, 0, 1)[None]
            for v in res['img']]
    # downsample like a backbone would (stride 4)
    maps = [torch.nn.functional.avg_pool2d(m, 4) for m in maps]
    boxes = torch.from_numpy(derived_view_boxes(res))
    flips = torch.from_numpy(res['view_flips'])
    aligned = [inverse_augment(maps[i], boxes[i:i + 1], flips[i:i + 1], output_size=(7, 7))
               for i in range(2)]
    crops = res['view_crops']
    px_per_cell = max((crops[:, 2] - crops[:, 0]).max(), (crops[:, 3] - crops[:, 1]).max()) / 16
    diff = (aligned[0] - aligned[1]).abs()
    assert diff.mean() < 1.0 + px_per_cell, diff.mean()
    # and the aligned maps are not constant: they span the intersection
    assert aligned[0][0, 0].max() - aligned[0][0, 0].min() > 0
    # orientation: x increases to the right in both aligned maps
    assert (aligned[0][0, 0, :, -1] >= aligned[0][0, 0, :, 0]).all()
    assert (aligned[1][0, 0, :, -1] >= aligned[1][0, 0, :, 0]).all()
