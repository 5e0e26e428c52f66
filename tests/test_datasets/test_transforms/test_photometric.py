# Copyright (c) mmdense contributors. All rights reserved.
"""FastColorJitter / FastGaussianBlur / FastRandomGrayscale: their parents' draws and bytes
(the hue shift and blur of ``pillow_like`` equal Pillow's on every colour / HSV triple)."""
import random

import numpy as np
import pytest

from mmdense.registry import TRANSFORMS
from mmdense.utils import register_all_modules

register_all_modules()


def _images(n: int = 6, size=(37, 53)):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n - 2)]
    smooth = np.linspace(0, 255, size[0] * size[1] * 3).reshape(*size, 3).astype(np.uint8)
    gray = np.repeat(rng.integers(0, 256, (*size, 1), dtype=np.uint8), 3, axis=2)
    return imgs + [smooth, gray]


def _run_pair(fast_cfg: dict, ref_cfg: dict, seed: int, atol: int = 0, images=None):
    fast, ref = TRANSFORMS.build(fast_cfg), TRANSFORMS.build(ref_cfg)
    for i, img in enumerate(_images() if images is None else images):
        np.random.seed(seed + i)
        random.seed(seed + i)
        want = ref(dict(img=img.copy()))['img']
        after_ref = (np.random.random(), random.random())
        np.random.seed(seed + i)
        random.seed(seed + i)
        got = fast(dict(img=img.copy()))['img']
        # same bytes, and the same random numbers were consumed
        assert got.dtype == want.dtype and got.shape == want.shape
        if atol:
            assert np.abs(got.astype(int) - want).max() <= atol
        else:
            np.testing.assert_array_equal(got, want)
        assert (np.random.random(), random.random()) == after_ref


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_fast_color_jitter_equals_mmpretrain(seed):
    args = dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)
    strong = dict(brightness=0.9, contrast=0.9, saturation=0.9, hue=0.5)
    for exact in (True, False):
        _run_pair(dict(type='FastColorJitter', exact=exact, **args),
                  dict(type='mmpretrain.ColorJitter', **args), 100 * seed)
        _run_pair(dict(type='FastColorJitter', exact=exact, **strong),
                  dict(type='mmpretrain.ColorJitter', **strong), 100 * seed + 50)
        # tiny images (Pillow's path inside pillow_adjust_hue) and a 1 x 1 one
        _run_pair(dict(type='FastColorJitter', exact=exact, **strong),
                  dict(type='mmpretrain.ColorJitter', **strong), 100 * seed + 70,
                  images=_images(3, (1, 1)) + _images(3, (3, 5)))


def test_fast_color_jitter_other_backend_is_the_parent():
    args = dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, backend='cv2')
    _run_pair(dict(type='FastColorJitter', **args), dict(type='mmpretrain.ColorJitter', **args), 7)


@pytest.mark.parametrize('keep_channels', [True, False])
@pytest.mark.parametrize('weights', [(0.114, 0.587, 0.2989), (1., 1., 1.), (0.3, 0.0, 0.9)])
def test_fast_random_grayscale_equals_mmcv(keep_channels, weights):
    args = dict(prob=0.5, keep_channels=keep_channels, channel_weights=weights)
    _run_pair(dict(type='FastRandomGrayscale', **args), dict(type='RandomGrayscale', **args), 3)
    always = dict(args, prob=1.0)
    _run_pair(dict(type='FastRandomGrayscale', **always),
              dict(type='RandomGrayscale', **always), 4)


def _photos(n: int = 4):
    """Crops of the real COCO photographs under shared/data (skipped without them)."""
    import cv2
    from pathlib import Path
    root = Path(__file__).resolve().parents[3].parent / 'shared' / 'data' / 'coco_tiny' / 'train2017'
    files = sorted(root.glob('*.jpg'))[:n]
    if not files:
        pytest.skip(f'no photographs under {root}')
    return [cv2.resize(cv2.imread(str(f)), (96, 80), interpolation=cv2.INTER_AREA) for f in files]


@pytest.mark.parametrize('exact', [True, False])
def test_fast_gaussian_blur_equals_mmpretrain(exact):
    args = dict(magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.7)
    atol = 0  # both paths give Pillow's bytes
    images = _images() + [_images(2, (3, 5))[0], _images(3, (1, 9))[0]]
    for seed in range(5):
        _run_pair(dict(type='FastGaussianBlur', exact=exact, **args),
                  dict(type='mmpretrain.GaussianBlur', **args), 10 * seed, atol, images)
    gray = [img[..., 0].copy() for img in _images()]
    _run_pair(dict(type='FastGaussianBlur', exact=exact, **args),
              dict(type='mmpretrain.GaussianBlur', **args), 9, atol, gray)


def test_pillow_gaussian_blur_equals_pillow():
    from PIL import Image, ImageFilter

    from mmdense.datasets.transforms.pillow_like import pillow_gaussian_blur
    rng = np.random.default_rng(0)
    flat = np.full((9, 7, 3), 200, np.uint8)
    for img in _photos() + _images() + [flat, np.ascontiguousarray(_images()[0][..., 1])]:
        for sigma in [float(s) for s in rng.uniform(0.1, 3.0, 4)] + [0.0, 0.1, 2.0, 7.5, 30.]:
            want = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(sigma)))
            np.testing.assert_array_equal(pillow_gaussian_blur(img, sigma), want, err_msg=str(sigma))


def test_hsv_to_rgb_on_every_triple():
    """The way back alone, on all 2^24 (h, s, v): OpenCV's floats + exact near-ties."""
    from PIL import Image

    from mmdense.datasets.transforms.pillow_like import _hsv_to_rgb
    codes = np.arange(1 << 24, dtype=np.uint32)
    planes = [np.ascontiguousarray(((codes >> shift) & 255).astype(np.uint8).reshape(4096, 4096))
              for shift in (16, 8, 0)]
    want = np.asarray(Image.merge('HSV', [Image.fromarray(p) for p in planes]).convert('RGB'))
    np.testing.assert_array_equal(_hsv_to_rgb(*planes), want)
    np.testing.assert_array_equal(_hsv_to_rgb(*planes, channel_order='bgr')[..., ::-1], want)


def test_pillow_adjust_hue_on_every_colour():
    from PIL import Image

    from mmdense.datasets.transforms.pillow_like import pillow_adjust_hue
    from mmdense.utils.compat import pil_adjust_hue
    codes = np.arange(1 << 24, dtype=np.uint32)
    colours = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], -1).astype(np.uint8)
    for factor, step in ((0.1, 1), (0.0, 7), (-0.37, 7)):  # every colour once, then 1 in 7
        every = colours[::step][:(1 << 24) // step // 4096 * 4096].reshape(-1, 4096, 3)
        want = np.asarray(pil_adjust_hue(Image.fromarray(every), factor))
        got = pillow_adjust_hue(every, factor)
        np.testing.assert_array_equal(got, want)
        # BGR in, BGR out: the same pixels
        got_bgr = pillow_adjust_hue(np.ascontiguousarray(every[..., ::-1]), factor, 'bgr')
        np.testing.assert_array_equal(got_bgr[..., ::-1], got)
    with pytest.raises(ValueError, match='hue_factor'):
        pillow_adjust_hue(every[:2, :2], 0.7)
    with pytest.raises(ValueError, match='channel_order'):
        pillow_adjust_hue(every[:8, :8], 0.1, 'RGB')


def test_pillow_adjust_hue_on_photos():
    from PIL import Image

    from mmdense.datasets.transforms.pillow_like import pillow_adjust_hue
    from mmdense.utils.compat import pil_adjust_hue
    for img in _photos():
        rgb = np.ascontiguousarray(img[..., ::-1])
        for factor in (-0.1, 0.05, 0.5):
            want = np.asarray(pil_adjust_hue(Image.fromarray(rgb), factor))
            np.testing.assert_array_equal(pillow_adjust_hue(rgb, factor), want)
            # a flipped (negative-stride) view in BGR order
            np.testing.assert_array_equal(
                pillow_adjust_hue(img[:, ::-1], factor, 'bgr')[..., ::-1], want[:, ::-1])


def test_fast_gaussian_blur_xy_radius_and_numpy_radius():
    """An (x, y) radius runs Pillow (as the parent); a numpy radius does not break it."""
    from PIL import Image, ImageFilter
    img = _images(1, (20, 30))[0]
    out = TRANSFORMS.build(dict(type='FastGaussianBlur', radius=(1.0, 2.0), prob=1.0))(
        dict(img=img.copy()))['img']
    want = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur((1.0, 2.0))))
    np.testing.assert_array_equal(out, want)
    for exact in (True, False):
        got = TRANSFORMS.build(dict(type='FastGaussianBlur', radius=np.float64(1.5), prob=1.0,
                                    exact=exact))(dict(img=img.copy()))['img']
        want = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(1.5)))
        np.testing.assert_array_equal(got, want)
