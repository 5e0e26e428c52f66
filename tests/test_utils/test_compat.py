# Copyright (c) mmdense contributors. All rights reserved.
import cv2
import mmcv
import numpy as np
import pytest

import mmdense.datasets  # noqa: F401  (installs the fix when needed)
from mmdense.utils.compat import adjust_hue


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('factor', [-0.5, -0.1, 0.0, 0.07, 0.5])
def test_adjust_hue_is_a_modular_hue_shift(backend, factor):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    out = mmcv.adjust_hue(img, factor, backend=backend)  # must not raise on numpy >= 2
    assert out.shape == img.shape and out.dtype == np.uint8
    if backend == 'cv2':
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL).astype(np.int64)
        hsv[..., 0] = (hsv[..., 0] + int(factor * 255)) % 256
        expected = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR_FULL)
        np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(adjust_hue(img, factor, backend=backend), out)


def test_color_jitter_pipeline_runs_with_negative_hue():
    from mmdense.registry import TRANSFORMS
    jitter = TRANSFORMS.build(dict(type='ColorJitter', hue=0.5))
    img = np.random.default_rng(1).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    for _ in range(20):
        assert jitter(dict(img=img.copy()))['img'].shape == img.shape
