# Copyright (c) mmdense contributors. All rights reserved.
"""ViCE's views through the shared multi-view crop: centre, beta, masking,
mutual regions, and region ids that stay consistent across views."""
import numpy as np
import pytest

from mmdense.datasets.transforms import (CannyCentre, MultiViewRandomResizedCrop,
                                         MutualRegionFilter, RegionMasking)
from mmdense.datasets.transforms.vice_views import mutual_regions

H, W, CELL = 96, 128, 8


def scene(seed: int = 0) -> dict:
    """A random blocky image, its region map (8 px cells) and each pixel's
    own index as a second map, to trace every view pixel back."""
    rng = np.random.default_rng(seed)
    regions = (np.arange(H)[:, None] // CELL) * (W // CELL) + np.arange(W)[None] // CELL
    colours = rng.integers(0, 256, size=(regions.max() + 1, 3), dtype=np.uint8)
    return dict(img=colours[regions], superpixels=regions.astype(np.int32),
                coords=np.arange(H * W, dtype=np.int32).reshape(H, W),
                seg_fields=['superpixels', 'coords'])


def views(mode: str, seed: int) -> dict:
    results = CannyCentre(seed=seed)(scene(seed))
    crop = MultiViewRandomResizedCrop(
        view_groups=[dict(num_views=5, size=32, size_coefficient=(0.5, 2.0))],
        min_overlap=0., seed=seed)
    results = crop(results)
    return RegionMasking(mode=mode, max_coverage=0.25, seed=seed)(results)


@pytest.mark.parametrize('mode', ['superpixel', 'rectangle'])
@pytest.mark.parametrize('seed', range(4))
def test_region_ids_consistent_across_views(mode, seed):
    original = scene(seed)['superpixels'].ravel()
    results = views(mode, seed)
    cx, cy = (int(v) for v in results['crop_centre'])
    for (x1, y1, x2, y2), flipped, regions, coords in zip(
            results['view_crops'], results['view_flips'], results['superpixels'],
            results['coords']):
        # the crop contains the shared centre; its side is beta * 32, beta in [0.5, 2]
        assert x1 <= cx < x2 and y1 <= cy < y2
        assert 16 <= x2 - x1 <= 64 and x2 - x1 == y2 - y1
        kept = regions >= 0
        # every unmasked pixel carries the region of the original pixel it came from
        assert np.array_equal(regions[kept], original[coords[kept]])
        # orientation: a flipped view's coordinates decrease along x
        assert (np.diff(coords[0] % W) <= 0).all() == bool(flipped)
    present = [set(r[r >= 0].ravel().tolist()) for r in results['superpixels']]
    filtered = MutualRegionFilter()(results)
    new_of_old = {}
    for regions, coords in zip(filtered['superpixels'], filtered['coords']):
        for new, old in zip(regions.ravel(), original[coords.ravel()]):
            if new >= 0:
                assert new_of_old.setdefault(old, new) == new  # one id per region, all views
    # exactly the regions present (unmasked) in all five views survive
    assert set(new_of_old) == set.intersection(*present)
    assert sorted(new_of_old.values()) == list(range(filtered['num_mutual_regions']))


def test_mutual_regions_constructed_case():
    a = np.array([[0, 1, 1], [3, 3, -1]])
    b = np.array([[1, 1, 5], [3, 3, 4]])
    c = np.array([[3, 3, 3], [1, 7, 0]])
    out = mutual_regions([a, b, c])
    # 1 and 3 are in all three views: they become 0 and 1; everything else -1
    assert np.array_equal(out[0], [[-1, 0, 0], [1, 1, -1]])
    assert np.array_equal(out[1], [[0, 0, -1], [1, 1, -1]])
    assert np.array_equal(out[2], [[1, 1, 1], [0, -1, -1]])
    # min_pixels: region 1 has a single pixel in view c
    out = mutual_regions([a, b, c], min_pixels=2)
    assert np.array_equal(out[2], [[0, 0, 0], [-1, -1, -1]])
    assert np.array_equal(out[0], [[-1, -1, -1], [0, 0, -1]])


def test_superpixel_masking_covers_whole_regions_up_to_the_budget():
    results = views('superpixel', 3)
    before = MultiViewRandomResizedCrop(
        view_groups=[dict(num_views=5, size=32, size_coefficient=(0.5, 2.0))],
        min_overlap=0., seed=3)(CannyCentre(seed=3)(scene(3)))
    for regions, old in zip(results['superpixels'], before['superpixels']):
        masked = regions < 0
        assert masked.mean() <= 0.25
        # a masked region is masked entirely
        assert not np.isin(old[~masked], np.unique(old[masked])).any()


def test_rectangle_masking_and_noise_statistics():
    t = RegionMasking(mode='rectangle', max_coverage=0.25, seed=0)
    img = np.zeros((200, 200, 3), np.uint8)
    out = t(dict(img=[img] * 40))
    areas, values = [], []
    for view in out['img']:
        mask = view.any(-1)
        ys, xs = np.nonzero(mask)
        if len(ys):
            # one axis-aligned rectangle of sides <= 0.25 x the view's
            assert mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1].all()
            assert np.ptp(ys) + 1 <= 50 and np.ptp(xs) + 1 <= 50
            values.append(view[mask])
        areas.append(mask.mean())
    noise = np.concatenate(values).astype(np.float64)  # BGR
    # mean + std * U(-1, 1): the pre-processor normalises it to U(-1, 1)
    assert np.allclose(noise.mean(0), [103.53, 116.28, 123.675], atol=2.)
    assert (noise.min(0) >= np.floor(np.array([103.53, 116.28, 123.675]) -
                                      np.array([57.375, 57.12, 58.395]))).all()
    assert max(areas) <= 0.0625 + 1e-9


def test_skip_first_leaves_the_target_view_clean():
    results = RegionMasking(mode='rectangle', max_coverage=0.5, skip_first=True, seed=1)(
        dict(img=[np.zeros((50, 50, 3), np.uint8)] * 3))
    assert not results['img'][0].any()


def test_canny_centre_follows_edges():
    img = np.zeros((120, 160, 3), np.uint8)
    img[10:40, 110:150] = 255  # the only edges: a square in the top-right corner
    t = CannyCentre(sigma=0.02, seed=0)
    for _ in range(50):
        x, y = t(dict(img=img))['crop_centre']
        assert 95 <= x <= 160 and 0 <= y <= 55
    # no edge at all: a uniform draw inside the image
    xs = [CannyCentre(seed=s)(dict(img=img * 0))['crop_centre'] for s in range(20)]
    assert all(0 <= x < 160 and 0 <= y < 120 for x, y in xs)


def test_size_coefficient_validation():
    with pytest.raises(ValueError, match='size_coefficient'):
        MultiViewRandomResizedCrop(view_groups=[dict(size=32, size_coefficient=(2., 1.))])
