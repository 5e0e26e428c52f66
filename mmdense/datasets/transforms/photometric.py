# Copyright (c) mmdense contributors. All rights reserved.
"""Photometric augmentations with the results of mmpretrain / mmcv, bit for bit, faster.

The BYOL view pipeline (SlotCon) spends most of its time in two of them:

- mmpretrain's ``ColorJitter(backend='pillow')`` (the official code's
  torchvision ``ColorJitter`` on PIL images does the same PIL operations)
  converts the image to a PIL image and back, flipping BGR <-> RGB with
  numpy copies, once per *operation* (four per call).
  :class:`FastColorJitter` converts once per call (OpenCV's channel swap)
  and runs the same four ``PIL.ImageEnhance`` / HSV operations on the same
  PIL image: the same bytes, about half the time.
- mmcv's ``RandomGrayscale`` computes the weighted channel sum with a
  broadcast float64 product and a reduction over the last axis of size 3.
  :class:`FastRandomGrayscale` looks the three products up in 256-entry
  tables and adds them in the same order (numpy's reduction of 3 elements
  is sequential), so every float64 sum, hence its truncation to uint8, is
  the same: about 6x faster.

Both draw their random numbers exactly as their parents do (same calls,
same order), so a seeded pipeline gives the same views with either; the
tests check equality on random images and parameters.

Two operations stay slow in Pillow itself: the hue shift's HSV round trip and
``GaussianBlur``. With ``exact=False`` (the default) :class:`FastColorJitter`
shifts hue (about 2x faster) and :class:`FastGaussianBlur` blurs (about 1.6x
faster) with :mod:`mmdense.datasets.transforms.pillow_like`: Pillow's
numerics through OpenCV and tables, the same bytes; ``exact=True`` runs
Pillow itself.
"""
from typing import Dict

import cv2
import numpy as np
from mmcv.transforms import RandomGrayscale
from mmpretrain.datasets.transforms import ColorJitter, GaussianBlur
from PIL import Image, ImageEnhance, ImageFilter

from mmdense.registry import TRANSFORMS
from mmdense.utils.compat import pil_adjust_hue
from .pillow_like import pillow_adjust_hue, pillow_gaussian_blur


@TRANSFORMS.register_module()
class FastColorJitter(ColorJitter):
    """mmpretrain's ``ColorJitter`` with one PIL round trip per call.

    Same arguments and random draws as ``ColorJitter(backend='pillow')``
    (mmpretrain's default); another ``backend`` runs the parent's code
    unchanged.

    Args:
        exact (bool): True: Pillow's hue round trip, as the parent.
            False (default): the hue shift by
            :func:`~mmdense.datasets.transforms.pillow_like.pillow_adjust_hue`,
            the same bytes, faster; brightness, contrast and saturation are
            Pillow's either way.
        **kwargs: ``ColorJitter``'s arguments.

    Input / output ``results['img']``: (H, W, 3) uint8 BGR.
    """

    def __init__(self, *args, exact: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exact = exact

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        if self.backend != 'pillow' or img.dtype != np.uint8 or img.ndim != 3 \
                or img.shape[2] != 3:
            return super().transform(results)
        order, brightness, contrast, saturation, hue = self._rand_params()
        image = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), mode='RGB')
        for index in order:
            if index == 0 and brightness is not None:
                image = ImageEnhance.Brightness(image).enhance(brightness)
            elif index == 1 and contrast is not None:
                image = ImageEnhance.Contrast(image).enhance(contrast)
            elif index == 2 and saturation is not None:
                image = ImageEnhance.Color(image).enhance(saturation)
            elif index == 3 and hue is not None:
                if self.exact:
                    image = pil_adjust_hue(image, hue)
                else:
                    image = Image.fromarray(pillow_adjust_hue(np.asarray(image), hue), mode='RGB')
        results['img'] = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1].rstrip(', ') + f', exact={self.exact})'


@TRANSFORMS.register_module()
class FastGaussianBlur(GaussianBlur):
    """mmpretrain's ``GaussianBlur`` (Pillow's filter) computed with OpenCV.

    Same arguments and random draws as the parent.

    Args:
        exact (bool): True: Pillow's filter as the parent calls it (with the
            radius as a Python float: numpy's makes Pillow 13 fail).
            False (default):
            :func:`~mmdense.datasets.transforms.pillow_like.pillow_gaussian_blur`,
            Pillow's three box passes with its radius and fixed-point weights
            in exact float64 sums: Pillow's bytes.
        **kwargs: ``GaussianBlur``'s arguments.

    Input / output ``results['img']``: (H, W) or (H, W, 3) uint8.
    """

    def __init__(self, *args, exact: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exact = exact

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        if self.random_disable():
            return results
        radius = self.radius if self.radius is not None else self.random_magnitude()
        fast = not self.exact and img.dtype == np.uint8 and (
            img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (3, 4)))
        if fast and np.ndim(radius) == 0:
            results['img'] = pillow_gaussian_blur(img, float(radius))
        else:  # the parent's code (an (x, y) radius, other images); a plain float for Pillow
            radius = tuple(map(float, radius)) if np.ndim(radius) else float(radius)
            blurred = Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius=radius))
            results['img'] = np.array(blurred, dtype=img.dtype)
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1].rstrip(', ') + f', exact={self.exact})'


@TRANSFORMS.register_module()
class FastRandomGrayscale(RandomGrayscale):
    """mmcv's ``RandomGrayscale`` with the weighted channel sum from tables.

    Same arguments, random draw and output bytes as the parent for 3-channel
    uint8 BGR images (the parent's code runs for anything else).

    Input / output ``results['img']``: (H, W, 3) uint8; with
    ``keep_channels=False`` the output is (H, W) when converted.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        weights = np.asarray(self.channel_weights, dtype=np.float64)
        weights = weights / weights.sum()
        # products[c, v] == (weights * img)[..., c] for a pixel value v
        self._products = weights[:, None] * np.arange(256, dtype=np.float64)[None]

    def transform(self, results: dict) -> dict:
        img = results['img']
        if self.color_format != 'bgr' or img.dtype != np.uint8 or img.ndim != 3 \
                or img.shape[2] != 3 or len(self.channel_weights) != 3:
            return super().transform(results)
        if self._random_prob() >= self.prob:
            results['img'] = img.copy()  # the parent returns a new array too
            return results
        table = self._products
        gray = table[0][img[..., 0]]
        gray += table[1][img[..., 1]]
        gray += table[2][img[..., 2]]
        gray = gray.astype(np.uint8)
        results['img'] = cv2.merge([gray, gray, gray]) if self.keep_channels else gray
        return results
