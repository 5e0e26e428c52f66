# Copyright (c) mmdense contributors. All rights reserved.
"""MultiViewRandomResizedCrop: groups, per-view maps, shared centre, and
bit-identity with the former two-view crop (recorded outputs)."""
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform

from mmdense.datasets.transforms import (MultiViewRandomResizedCrop, PackMultiViewInputs,
                                         TwoViewRandomResizedCrop, ViewwisePipeline)
from mmdense.registry import TRANSFORMS
from mmdense.structures import pairwise_overlap_boxes, stack_view_geometry, stack_view_maps
from mmdense.structures.view_geometry import box_area, box_intersection

from tests.harness.paths import TEST_DATA


def coordinate_image(height: int = 200, width: int = 200) -> np.ndarray:
    """uint8 image: channel 0 = column, channel 1 = row, channel 2 = (row + col) % 256."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs, ys, (xs + ys) % 256], axis=-1).astype(np.uint8)


def coordinate_maps(height: int = 200, width: int = 200) -> dict:
    ys, xs = np.mgrid[0:height, 0:width]
    return dict(
        gt_seg_map=((ys // 7) * 40 + xs // 5).astype(np.int32),  # a coarse label
        region_ids=(ys * 1000 + xs).astype(np.int64),  # a unique id per pixel
        saliency=((xs + ys) % 3 == 0).astype(np.uint8),
    )


def sample_with_maps(height=200, width=200, **extra) -> dict:
    maps = coordinate_maps(height, width)
    return dict(img=coordinate_image(height, width), seg_fields=list(maps), img_path='a.png',
                **maps, **extra)


# --------------------------------------------------------------------------------------------
# Reference: outputs of the former TwoViewRandomResizedCrop for fixed seeds, recorded from the
# code before the multi-view crop replaced it (tests/data/make_two_view_crop_golden.py)
# --------------------------------------------------------------------------------------------
GOLDEN = {k: np.asarray(v) for k, v in
          json.loads((Path(TEST_DATA) / 'two_view_crop_golden.json').read_text()).items()}


def pair_inputs(batch: int = 400, num_views: int = 3):
    """The arbitrary crops and flips the pairwise boxes were recorded for."""
    rng = np.random.default_rng(0)
    x1 = rng.integers(0, 500, (batch, num_views))
    y1 = rng.integers(0, 400, (batch, num_views))
    crops = np.stack([x1, y1, x1 + rng.integers(1, 600, (batch, num_views)),
                      y1 + rng.integers(1, 500, (batch, num_views))], -1)
    return crops.astype(np.float32), rng.random((batch, num_views)) < 0.5


def array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()

REF_CASES = [
    # size, scale, interpolation, min_overlap, max_tries: SlotCon's and some that hit the fallbacks
    (32, (0.08, 1.0), 'bicubic', 0.01, 10),
    (24, (0.2, 1.0), 'bilinear', 0.01, 10),
    (16, (0.01, 0.03), 'bicubic', 0.6, 2),
    (16, (0.03, 0.15), 'bilinear', 0.2, 2),  # about 40 % of the seeds end in the fallback
    (16, (0.05, 0.2), 'bicubic', 0.3, 3),  # many re-samples, rare fallback
]


def views_digest(views) -> str:
    digest = hashlib.sha1()
    for view in views:
        digest.update(str(view.shape).encode())
        digest.update(np.ascontiguousarray(view).tobytes())
    return digest.hexdigest()


def assert_same_as_recorded(out, prefix, n):
    np.testing.assert_array_equal(out['view_crops'], GOLDEN[f'{prefix}_crops'][n].astype(np.float32))
    np.testing.assert_array_equal(out['view_flips'], GOLDEN[f'{prefix}_flips'][n])
    assert len(out['img']) == 2 and views_digest(out['img']) == GOLDEN[f'{prefix}_hashes'][n]
    boxes = np.stack(pairwise_overlap_boxes(out['view_crops'], out['view_flips'], 0, 1))
    assert np.array_equal(boxes, GOLDEN[f'{prefix}_boxes'][n].astype(np.float32))


@pytest.mark.parametrize('case', range(len(REF_CASES)))
def test_same_seed_same_crops_flips_and_pixels_as_the_two_view_crop(case):
    size, scale, interp, min_overlap, max_tries = REF_CASES[case]
    img = np.random.default_rng(7).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    ratio = (3. / 4., 4. / 3.)
    for seed in range(25):
        new = MultiViewRandomResizedCrop(
            view_groups=[dict(num_views=2, size=size, scale=scale, ratio=ratio,
                              interpolation=interp, flip_prob=0.5)],
            min_overlap=min_overlap, max_tries=max_tries, seed=seed,
            antialias=False)(dict(img=img.copy()))
        assert_same_as_recorded(new, f'case{case}', seed)
        alias = TwoViewRandomResizedCrop(size=size, scale=scale, ratio=ratio,
                                         interpolation=interp, flip_prob=0.5,
                                         min_overlap=min_overlap, max_tries=max_tries,
                                         seed=seed, antialias=False)(dict(img=img.copy()))
        assert_same_as_recorded(alias, f'case{case}', seed)


def test_same_global_seed_same_output_as_the_two_view_crop():
    """Without ``seed`` both read numpy's global state (what mmengine seeds) in the same order."""
    img = np.random.default_rng(3).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    transform = MultiViewRandomResizedCrop(
        view_groups=[dict(num_views=2, size=16, scale=(0.02, 0.3), interpolation='bicubic')],
        min_overlap=0.3, max_tries=3, antialias=False)
    state = np.random.get_state()
    try:
        for seed in range(15):
            np.random.seed(seed)
            out = transform(dict(img=img.copy()))
            assert np.random.random() == GOLDEN['global_after'][seed]  # the same number of draws
            assert_same_as_recorded(out, 'global', seed)
    finally:
        np.random.set_state(state)


def test_pairwise_boxes_bit_identical_to_the_old_view_boxes():
    crops, flips = pair_inputs()
    batch = crops.shape[0]
    crops_t, flips_t = torch.from_numpy(crops), torch.from_numpy(flips)  # as packed and stacked
    for i, j in ((0, 1), (1, 0), (0, 2), (2, 1)):
        bi, bj, valid = pairwise_overlap_boxes(crops_t, flips_t, i, j, return_valid=True)
        ni, nj = pairwise_overlap_boxes(crops, flips, i, j)
        assert bi.dtype == torch.float32 and bi.shape == (batch, 4)
        assert np.array_equal(bi.numpy(), ni) and np.array_equal(bj.numpy(), nj)
        ref_valid = GOLDEN[f'pair{i}{j}_valid'].astype(bool)
        assert np.array_equal(valid.numpy(), ref_valid) and ref_valid.sum() > batch // 4
        assert array_digest(bi.numpy()[ref_valid]) == GOLDEN[f'pair{i}{j}_i_sha256']
        assert array_digest(bj.numpy()[ref_valid]) == GOLDEN[f'pair{i}{j}_j_sha256']


def test_never_an_empty_intersection_with_the_anchor():
    groups = [dict(num_views=2, size=8, scale=(0.005, 0.02)),
              dict(num_views=3, size=6, scale=(0.005, 0.01))]
    for seed in range(40):
        transform = MultiViewRandomResizedCrop(view_groups=groups, min_overlap=0.5, max_tries=2,
                                               seed=seed)
        res = transform(dict(img=coordinate_image(120, 120)))
        crops, flips = res['view_crops'], res['view_flips']
        assert crops.shape == (5, 4)
        for v in range(1, 5):
            b0, bv, valid = pairwise_overlap_boxes(crops, flips, 0, v, return_valid=True)
            assert valid
            for b in (b0, bv):
                assert b[2] > b[0] and b[3] > b[1]
                assert np.all(b >= 0) and np.all(b <= 1)
            inter = box_intersection(tuple(crops[0]), tuple(crops[v]))
            # the overlap rule holds, or the fallback repeated the anchor
            assert (box_area(inter) >= 0.5 * box_area(crops[v])
                    or np.array_equal(crops[v], crops[0]))


def test_groups_sizes_scales_and_the_overlap_switch():
    height, width = 160, 200
    groups = [dict(num_views=2, size=32, scale=(0.4, 1.0), interpolation='bilinear'),
              dict(num_views=3, size=(16, 12), scale=(0.05, 0.15), ratio=(0.5, 2.0),
                   flip_prob=0.0, overlap=False)]
    for seed in range(10):
        res = MultiViewRandomResizedCrop(view_groups=groups, seed=seed)(
            dict(img=coordinate_image(height, width)))
        assert [v.shape for v in res['img']] == [(32, 32, 3)] * 2 + [(16, 12, 3)] * 3
        assert res['view_sizes'].tolist() == [[32, 32]] * 2 + [[16, 12]] * 3
        assert res['view_group_ids'].tolist() == [0, 0, 1, 1, 1]
        assert res['img_shape'] == (32, 32)
        assert not res['view_flips'][2:].any()
        crops = res['view_crops'].astype(float)
        w, h = crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1]
        assert np.all(crops[:, :2] >= 0) and np.all(crops[:, 2] <= width)
        assert np.all(crops[:, 3] <= height)
        frac = w * h / (height * width)
        slack = 0.02  # integer rounding of w and h
        assert np.all(frac[:2] >= 0.4 - slack) and np.all(frac[:2] <= 1.0 + slack)
        assert np.all(frac[2:] >= 0.05 - slack) and np.all(frac[2:] <= 0.15 + slack)
        assert np.all(w[2:] / h[2:] >= 0.5 * 0.8) and np.all(w[2:] / h[2:] <= 2.0 * 1.25)
    with pytest.raises(ValueError, match='unknown key'):
        MultiViewRandomResizedCrop(view_groups=[dict(num_views=2, sizes=32)])
    with pytest.raises(ValueError, match='num_views'):
        MultiViewRandomResizedCrop(view_groups=[dict(num_views=0)])


def expected_map(full: np.ndarray, crop, flipped: bool, out_h: int, out_w: int) -> np.ndarray:
    """Independent nearest rule: output pixel (r, c) <- source pixel centre under it."""
    x1, y1, x2, y2 = (int(v) for v in crop)
    rows = y1 + np.minimum(np.floor((np.arange(out_h) + 0.5) * (y2 - y1) / out_h), y2 - y1 - 1)
    cols = x1 + np.minimum(np.floor((np.arange(out_w) + 0.5) * (x2 - x1) / out_w), x2 - x1 - 1)
    out = full[rows.astype(int)[:, None], cols.astype(int)[None, :]]
    return out[:, ::-1] if flipped else out


@pytest.mark.parametrize('seed', range(6))
def test_every_seg_field_is_cut_resized_and_flipped_with_its_view(seed):
    groups = [dict(num_views=2, size=24, scale=(0.2, 1.0), interpolation='nearest'),
              dict(num_views=2, size=(10, 14), scale=(0.05, 0.3), interpolation='nearest',
                   overlap=False)]
    full = coordinate_maps()
    res = MultiViewRandomResizedCrop(view_groups=groups, seed=seed)(sample_with_maps())
    for key in full:
        assert isinstance(res[key], list) and len(res[key]) == 4
    for v, view in enumerate(res['img']):
        h, w = res['view_sizes'][v]
        col, row = view[..., 0].astype(np.int64), view[..., 1].astype(np.int64)
        # the maps of view v show the same original pixels as its image
        assert res['region_ids'][v].dtype == np.int64 and res['region_ids'][v].shape == (h, w)
        np.testing.assert_array_equal(res['region_ids'][v], row * 1000 + col)
        np.testing.assert_array_equal(res['gt_seg_map'][v], (row // 7) * 40 + col // 5)
        np.testing.assert_array_equal(res['saliency'][v], ((col + row) % 3 == 0).astype(np.uint8))
        # and the right ones for its recorded crop and flip
        for key in full:
            np.testing.assert_array_equal(
                res[key][v], expected_map(full[key], res['view_crops'][v], res['view_flips'][v],
                                          h, w))


def test_maps_follow_a_bicubic_view_geometrically():
    res = MultiViewRandomResizedCrop(
        view_groups=[dict(num_views=3, size=40, scale=(0.3, 1.0), interpolation='bicubic')],
        seed=1)(sample_with_maps())
    for v, view in enumerate(res['img']):
        ids = res['region_ids'][v]
        np.testing.assert_array_equal(
            ids, expected_map(coordinate_maps()['region_ids'], res['view_crops'][v],
                              res['view_flips'][v], 40, 40))
        # interior pixels: the bicubic image value is within a pixel of the map's coordinates
        inner = (slice(4, -4), slice(4, -4))
        scale = (res['view_crops'][v, 2] - res['view_crops'][v, 0]) / 40
        assert np.abs(view[..., 0][inner].astype(float) - ids[inner] % 1000).max() <= 1 + scale


def test_mismatched_seg_map_size_is_a_clear_error():
    results = sample_with_maps()
    results['saliency'] = results['saliency'][:150]
    transform = MultiViewRandomResizedCrop(view_groups=[dict(num_views=2, size=16)], seed=0)
    with pytest.raises(ValueError, match=r"'saliency' has size 150x200.*200x200.*a\.png"):
        transform(results)
    results = sample_with_maps()
    results['seg_fields'].append('missing')
    with pytest.raises(ValueError, match='missing'):
        transform(results)


@pytest.mark.parametrize('centre', [(100.4, 60.9), (0.2, 199.7), (199.9, 0.0), (250.0, -3.0)])
def test_shared_centre_is_inside_every_crop(centre):
    groups = [dict(num_views=1, size=16, scale=(0.02, 0.1)),
              dict(num_views=4, size=12, scale=(0.01, 0.05), overlap=False)]
    cx = int(min(max(math.floor(centre[0]), 0), 199))
    cy = int(min(max(math.floor(centre[1]), 0), 199))
    for seed in range(15):
        res = MultiViewRandomResizedCrop(view_groups=groups, seed=seed)(
            dict(img=coordinate_image(), crop_centre=centre))
        crops = res['view_crops']
        assert np.all(crops[:, 0] <= cx) and np.all(crops[:, 2] >= cx + 1), (crops, cx)
        assert np.all(crops[:, 1] <= cy) and np.all(crops[:, 3] >= cy + 1), (crops, cy)
        for i in range(5):  # so every pair overlaps
            for j in range(i + 1, 5):
                assert pairwise_overlap_boxes(crops, res['view_flips'], i, j,
                                              return_valid=True)[2]
    # positions vary: the centre does not pin the crops
    starts = {tuple(MultiViewRandomResizedCrop(view_groups=groups, seed=s)(
        dict(img=coordinate_image(), crop_centre=(100.0, 100.0)))['view_crops'][0, :2])
        for s in range(8)}
    assert len(starts) > 4
    with pytest.raises(ValueError, match='crop_centre'):
        MultiViewRandomResizedCrop(view_groups=groups, seed=0)(
            dict(img=coordinate_image(), crop_centre=(1.0, float('nan'))))


@TRANSFORMS.register_module(name='_TamperWithMaps', force=True)
class _TamperWithMaps(BaseTransform):
    """Records the map it sees, then reassigns it (and optionally writes in place)."""
    seen = []

    def __init__(self, in_place: bool = False):
        self.in_place = in_place

    def transform(self, results):
        _TamperWithMaps.seen.append((results['img'].copy(), results['region_ids'].copy()))
        if self.in_place:
            results['region_ids'][...] = 0
        results['region_ids'] = np.zeros(3)
        results['gt_seg_map'] = None
        results['img'] = 255 - results['img']
        return results


def test_photometric_pipelines_leave_the_maps_untouched_and_attached():
    groups = [dict(num_views=2, size=16, interpolation='nearest'),
              dict(num_views=3, size=8, scale=(0.05, 0.3), interpolation='nearest',
                   overlap=False)]
    res = MultiViewRandomResizedCrop(view_groups=groups, seed=4)(sample_with_maps())
    before = {k: [m.copy() for m in res[k]] for k in coordinate_maps()}
    views = [v.copy() for v in res['img']]
    _TamperWithMaps.seen.clear()
    out = ViewwisePipeline(group_pipelines=[[], [dict(type='_TamperWithMaps')]])(dict(res))
    for k in before:
        assert all(np.array_equal(a, b) for a, b in zip(out[k], before[k]))
    # groups: views 0-1 untouched, views 2-4 went through the second group's pipeline
    for v in range(5):
        expected = views[v] if v < 2 else 255 - views[v]
        np.testing.assert_array_equal(out['img'][v], expected)
    # each view's pipeline saw that view's own map
    assert len(_TamperWithMaps.seen) == 3
    for v, (img, ids) in zip(range(2, 5), _TamperWithMaps.seen):
        np.testing.assert_array_equal(img, views[v])
        np.testing.assert_array_equal(ids, before['region_ids'][v])
    # an in-place write to a view's map is refused rather than silently misaligning it
    with pytest.raises(ValueError, match='read-only'):
        ViewwisePipeline([[dict(type='_TamperWithMaps', in_place=True)]] * 5)(dict(res))
    for k in before:
        assert all(np.array_equal(a, b) for a, b in zip(res[k], before[k]))
    with pytest.raises(ValueError, match='list of 2 views'):
        ViewwisePipeline([[], []])(dict(res))
    with pytest.raises(ValueError, match='exactly one'):
        ViewwisePipeline()
    with pytest.raises(ValueError, match='2 group_pipelines'):
        ViewwisePipeline(group_pipelines=[[], []])(dict(res, view_group_ids=np.array([0, 1, 2, 2, 2])))


def test_packing_views_geometry_and_maps():
    groups = [dict(num_views=2, size=16, scale=(0.3, 1.0)),
              dict(num_views=2, size=8, scale=(0.05, 0.3), overlap=False)]
    transform = MultiViewRandomResizedCrop(view_groups=groups, seed=2)
    samples = []
    for _ in range(3):
        res = transform(sample_with_maps())
        packed = PackMultiViewInputs()(res)
        assert [tuple(t.shape) for t in packed['inputs']] == [(3, 16, 16)] * 2 + [(3, 8, 8)] * 2
        ds = packed['data_samples']
        assert 'view_boxes' not in ds
        np.testing.assert_array_equal(ds.view_crops, res['view_crops'])
        maps = ds.view_seg_maps
        assert set(maps) == {'gt_seg_map', 'region_ids', 'saliency'}
        assert isinstance(maps['region_ids'], list)  # two view sizes: a list of V tensors
        assert maps['region_ids'][2].dtype == torch.int64
        for v in range(4):
            np.testing.assert_array_equal(maps['gt_seg_map'][v].numpy(), res['gt_seg_map'][v])
        samples.append((ds, res))
    data_samples = [ds for ds, _ in samples]
    crops, flips = stack_view_geometry(data_samples)
    assert crops.shape == (3, 4, 4) and crops.dtype == torch.float32 and flips.shape == (3, 4)
    for view in (0, 3):
        batch = stack_view_maps(data_samples, 'saliency', view)
        assert batch.dtype == torch.long and batch.shape == ((3, 16, 16) if view == 0 else (3, 8, 8))
        for n, (_, res) in enumerate(samples):
            np.testing.assert_array_equal(batch[n].numpy(), res['saliency'][view])
    with pytest.raises(KeyError, match='nope'):
        stack_view_maps(data_samples, 'nope', 0)
    # one view size: each map packs as a (V, H, W) tensor
    res = MultiViewRandomResizedCrop(view_groups=[dict(num_views=3, size=8)], seed=0)(
        sample_with_maps())
    maps = PackMultiViewInputs()(res)['data_samples'].view_seg_maps
    assert tuple(maps['saliency'].shape) == (3, 8, 8) and maps['saliency'].dtype == torch.uint8
    with pytest.raises(KeyError, match='MultiViewRandomResizedCrop'):
        stack_view_geometry([object()])
