# Copyright (c) mmdense contributors. All rights reserved.
"""FastColorJitter / FastRandomGrayscale give their parents' bytes and draws."""
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


def _run_pair(fast_cfg: dict, ref_cfg: dict, seed: int):
    fast, ref = TRANSFORMS.build(fast_cfg), TRANSFORMS.build(ref_cfg)
    for i, img in enumerate(_images()):
        np.random.seed(seed + i)
        random.seed(seed + i)
        want = ref(dict(img=img.copy()))['img']
        after_ref = (np.random.random(), random.random())
        np.random.seed(seed + i)
        random.seed(seed + i)
        got = fast(dict(img=img.copy()))['img']
        # same bytes, and the same random numbers were consumed
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        assert (np.random.random(), random.random()) == after_ref


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_fast_color_jitter_equals_mmpretrain(seed):
    args = dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)
    _run_pair(dict(type='FastColorJitter', **args),
              dict(type='mmpretrain.ColorJitter', **args), 100 * seed)
    strong = dict(brightness=0.9, contrast=0.9, saturation=0.9, hue=0.5)
    _run_pair(dict(type='FastColorJitter', **strong),
              dict(type='mmpretrain.ColorJitter', **strong), 100 * seed + 50)


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
