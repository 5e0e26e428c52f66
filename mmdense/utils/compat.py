# Copyright (c) mmdense contributors. All rights reserved.
"""Fixes for known breakages of the pinned OpenMMLab stack on current numpy.

mmcv 2.1.0 (the last mmcv that mmdet 3.3 / mmseg 1.2 accept) shifts the hue
channel with ``h += np.uint8(hue_factor * 255)``. numpy >= 2 refuses to turn a
negative number into ``uint8`` (``OverflowError: Python integer -14 out of
bounds for uint8``), so mmpretrain's ``ColorJitter`` (BYOL/SlotCon's colour
augmentation, hue 0.1) crashes on about every second image. The replacement
keeps mmcv's semantics exactly (a modular shift of the 8-bit hue, both
backends) and is installed only when the bug is detected, so a fixed mmcv is
left alone.
"""
from typing import Optional

import cv2
import numpy as np
from PIL import Image


def hue_shift_uint8(hue_factor: float) -> np.uint8:
    """mmcv's shift as numpy 1 computed it: ``int(f * 255)`` modulo 256."""
    return np.uint8(int(hue_factor * 255) % 256)


def pil_adjust_hue(image: Image.Image, hue_factor: float) -> Image.Image:
    """The pillow branch of :func:`adjust_hue` on a PIL RGB image."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    h, s, v = image.convert('HSV').split()
    np_h = np.array(h, dtype=np.uint8)
    with np.errstate(over='ignore'):
        np_h += hue_shift_uint8(hue_factor)
    return Image.merge('HSV', (Image.fromarray(np_h, 'L'), s, v)).convert('RGB')


def adjust_hue(img: np.ndarray, hue_factor: float, backend: Optional[str] = None) -> np.ndarray:
    """``mmcv.adjust_hue`` that also works on numpy >= 2 (same arguments)."""
    import mmcv.image.io
    backend = backend or mmcv.image.io.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f"backend: {backend} is not supported. Supported backends are 'cv2', 'pillow'")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    if backend == 'pillow':
        assert img.dtype == np.uint8, 'Pillow backend only support uint8 type'
        pil_image = pil_adjust_hue(Image.fromarray(img[..., ::-1], mode='RGB'), hue_factor)
        return np.array(pil_image, dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    h, s, v = cv2.split(cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL))
    h = h.astype(np.uint8)
    with np.errstate(over='ignore'):
        h += hue_shift_uint8(hue_factor)
    return cv2.cvtColor(cv2.merge([h, s, v]), cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def _mmcv_adjust_hue_is_broken() -> bool:
    import mmcv
    try:
        mmcv.adjust_hue(np.zeros((1, 1, 3), np.uint8), -0.1, backend='cv2')
    except OverflowError:
        return True
    return False


def patch_mmcv_adjust_hue() -> bool:
    """Install :func:`adjust_hue` into mmcv if mmcv's own is broken.

    Returns:
        bool: whether it was installed.
    """
    import mmcv
    import mmcv.image
    import mmcv.image.photometric
    if mmcv.adjust_hue is adjust_hue or not _mmcv_adjust_hue_is_broken():
        return False
    for module in (mmcv, mmcv.image, mmcv.image.photometric):
        module.adjust_hue = adjust_hue
    return True
