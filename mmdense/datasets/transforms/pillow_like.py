# Copyright (c) mmdense contributors. All rights reserved.
"""Pillow's hue shift and Gaussian blur, computed with OpenCV and small tables.

The official pipelines of the four methods (torchvision transforms on PIL
images, mmpretrain's ``pillow`` backends) shift hue through Pillow's HSV
round trip and blur with Pillow's ``GaussianBlur``. Pillow computes both one
pixel at a time in scalar C: on a 224 px view the hue round trip costs about
2.5 ms and the blur about 2 ms, together about half of SlotCon's two-view
pipeline. OpenCV's own HSV conversion and Gaussian filter are fast but use
other numerics (another hue quantisation: up to 6 grey levels apart after a
round trip; a true Gaussian instead of Pillow's three box passes: up to 30
levels apart), so they are not substitutes. No library computes Pillow's
numerics faster, hence this module, written by hand:

- :func:`pillow_adjust_hue`: Pillow's ``RGB -> HSV`` quantisation is looked up
  in tables *made by Pillow itself* at first use (hue from the two channel
  distances of each max-channel case, 3 x 256 x 256 bytes; saturation from
  (max, min), 256 x 256), so H, S, V are Pillow's bytes; the way back is
  OpenCV's float ``HSV -> RGB`` (Pillow's formulas in another rounding
  order), except the few values within 1e-3 of a rounding tie, recomputed
  with Pillow's own float / double steps: **Pillow's bytes** (tested on all
  2^24 colours and all 2^24 HSV triples), about 2x faster.
- :func:`pillow_gaussian_blur`: Pillow's blur is three horizontal then three
  vertical passes of a box of fractional radius (edge pixels replicated, each
  pass rounded to uint8); the radius and the box's 24-bit fixed-point weights
  are computed as Pillow's C does and each pass runs as one OpenCV
  ``filter2D`` in float64, where every sum is exact: **Pillow's bytes**, about
  1.6x faster. (The same passes on uint8 in OpenCV's float32 are 3x faster
  but round a tie the other way on ~1e-5 of the pixels, up to 2 levels after
  six passes.)

They serve :class:`FastColorJitter` / :class:`FastGaussianBlur`
(``exact=False``, the default); ``exact=True`` runs Pillow itself. The tests
compare them with Pillow on every colour and on real photographs.
"""
from functools import lru_cache
from typing import Tuple

import cv2
import numpy as np
from PIL import Image

from mmdense.utils.compat import hue_shift_uint8, pil_adjust_hue

__all__ = ['pillow_adjust_hue', 'pillow_gaussian_blur', 'pillow_box_blur_params']


#: uint8 H, S, V -> OpenCV's float HSV (hue in degrees), one table per channel
_HSV_FLOAT_LUT = (np.arange(256, dtype=np.float32)[None, :, None] *
                  np.array([360. / 255., 1. / 255., 1. / 255.], np.float32))


@lru_cache(maxsize=1)
def _hsv_tables() -> Tuple[np.ndarray, np.ndarray]:
    """Pillow's uint8 hue and saturation, tabulated by Pillow's own converter.

    Pillow's hue depends only on which channel is the maximum (tested in the
    order r, g, b) and on the two other channels' distances to it; its
    saturation only on (max, min). Each table row is converted by Pillow
    with the maximum channel at 255, where every distance 0-255 occurs.

    Returns:
        tuple: hue table (3 * 65536,) uint8 indexed by
        ``case * 65536 + u * 256 + v`` with (u, v) = (dg, db) when r is the
        max, (dr, db) when g is, (dr, dg) when b is; saturation table
        (65536,) uint8 indexed by ``max * 256 + min``.
    """
    d = np.arange(256, dtype=np.int32)
    u, v = np.meshgrid(d, d, indexing='ij')
    full = np.full_like(u, 255)

    def to_hsv(r, g, b):
        rgb = np.stack([r, g, b], -1).astype(np.uint8)
        return np.asarray(Image.fromarray(rgb, 'RGB').convert('HSV'))

    hue = np.stack([
        to_hsv(full, 255 - u, 255 - v)[..., 0],  # r max: (dg, db)
        to_hsv(255 - u, full, 255 - v)[..., 0],  # g max (r below): (dr, db)
        to_hsv(255 - u, 255 - v, full)[..., 0],  # b max (r, g below): (dr, dg)
    ]).reshape(-1)
    low = np.minimum(u, v)
    saturation = to_hsv(u, low, low)[..., 1].reshape(-1)  # (max, min)
    return np.ascontiguousarray(hue), np.ascontiguousarray(saturation)


def pillow_adjust_hue(img: np.ndarray, hue_factor: float, channel_order: str = 'rgb') -> np.ndarray:
    """Pillow's hue shift (``adjust_hue`` of torchvision / mmcv's pillow backend).

    Args:
        img (np.ndarray): (H, W, 3) uint8.
        hue_factor (float): Shift in [-0.5, 0.5] of the hue circle.
        channel_order (str): ``'rgb'`` or ``'bgr'``; the output keeps it.

    Returns:
        np.ndarray: (H, W, 3) uint8, Pillow's result byte for byte.
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) uint8 image, got {img.dtype} {img.shape}')
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    if img.shape[0] * img.shape[1] < 16:
        # OpenCV's Python binding takes a 1 x 1 array for a scalar: Pillow for tiny images
        rgb = img if channel_order == 'rgb' else img[..., ::-1]
        out = np.asarray(pil_adjust_hue(Image.fromarray(np.ascontiguousarray(rgb)), hue_factor))
        return out.copy() if channel_order == 'rgb' else np.ascontiguousarray(out[..., ::-1])
    hue_table, sat_table = _hsv_tables()
    first, g, last = cv2.split(img)
    r, b = (first, last) if channel_order == 'rgb' else (last, first)
    maxc = cv2.max(cv2.max(r, g), b)
    minc = cv2.min(cv2.min(r, g), b)
    dr, dg, db = cv2.subtract(maxc, r), cv2.subtract(maxc, g), cv2.subtract(maxc, b)
    # the max-channel case in Pillow's order (r, then g, then b) as 0 / 255 masks
    r_max = cv2.compare(dr, 0, cv2.CMP_EQ)
    g_max = cv2.bitwise_and(cv2.compare(dg, 0, cv2.CMP_EQ), cv2.bitwise_not(r_max))
    b_max = cv2.bitwise_not(cv2.bitwise_or(r_max, g_max))
    first_key = cv2.bitwise_or(cv2.bitwise_and(dg, r_max), dr)  # dg if r is max, else dr
    second_key = cv2.bitwise_or(cv2.bitwise_and(dg, b_max),
                                cv2.bitwise_and(db, cv2.bitwise_not(b_max)))  # dg if b, else db
    case = cv2.bitwise_or(cv2.bitwise_and(g_max, 1), cv2.bitwise_and(b_max, 2))
    index = case.astype(np.int32) << 16
    index |= first_key.astype(np.int32) << 8
    index |= second_key
    hue = np.take(hue_table, index)
    hue += hue_shift_uint8(hue_factor)  # wraps modulo 256, as Pillow's uint8 hue
    sat = np.take(sat_table, (maxc.astype(np.int32) << 8) | minc)
    return _hsv_to_rgb(hue, sat, maxc, channel_order)


def _hsv_to_rgb(hue: np.ndarray, sat: np.ndarray, val: np.ndarray,
                channel_order: str = 'rgb') -> np.ndarray:
    """Pillow's ``HSV -> RGB`` bytes: OpenCV's float conversion, near-ties recomputed.

    OpenCV's float32 value is within ~2.5e-4 of Pillow's (another order of the
    same arithmetic), so only values within 1e-3 of a rounding tie (a .5
    between ``y - 1e-3`` and ``y + 1e-3``) can round the other way; those
    pixels (~0.2 %) are recomputed with Pillow's own steps.

    Args:
        hue, sat, val (np.ndarray): ``(H, W)`` uint8 planes, H * W >= 16.
        channel_order (str): ``'rgb'`` or ``'bgr'`` output.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8.
    """
    hsv = cv2.LUT(cv2.merge([hue, sat, val]), _HSV_FLOAT_LUT)  # degrees, [0, 1], [0, 1]
    code = cv2.COLOR_HSV2RGB if channel_order == 'rgb' else cv2.COLOR_HSV2BGR
    rgb = cv2.cvtColor(hsv, code)  # floats in [0, 1]
    out = cv2.convertScaleAbs(rgb, alpha=255.)
    near_tie = cv2.compare(cv2.convertScaleAbs(rgb, alpha=255., beta=1e-3),
                           cv2.convertScaleAbs(rgb, alpha=255., beta=-1e-3), cv2.CMP_NE)
    near_tie = near_tie.reshape(hue.shape[0], -1)  # (H, W * 3)
    if cv2.countNonZero(near_tie):
        points = cv2.findNonZero(near_tie)[:, 0]  # (N, 2): x, y; a pixel may come twice
        rows, cols = points[:, 1], points[:, 0] // 3
        exact = _pillow_hsv_to_rgb(hue[rows, cols], sat[rows, cols], val[rows, cols])
        out[rows, cols] = exact if channel_order == 'rgb' else exact[:, ::-1]
    return out


def _pillow_hsv_to_rgb(hue: np.ndarray, sat: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Pillow's ``hsv2rgb`` with its float / double steps, for a few pixels.

    Args:
        hue, sat, val (np.ndarray): ``(N,)`` uint8.

    Returns:
        np.ndarray: ``(N, 3)`` uint8 RGB.
    """
    def c_round(x: np.ndarray) -> np.ndarray:  # C's round: halves away from zero (x >= 0)
        down = np.floor(x)
        return (down + (x - down >= 0.5)).astype(np.uint8)

    h6 = hue.astype(np.float64) * 6.0 / 255.0
    sector = np.floor(h6)
    frac = (h6 - sector).astype(np.float32)
    fs = (sat.astype(np.float64) / 255.0).astype(np.float32)
    v = val.astype(np.float64)
    p = c_round(v * (1.0 - fs.astype(np.float64)))
    q = c_round(v * (1.0 - (fs * frac).astype(np.float64)))
    t = c_round(v * (1.0 - fs.astype(np.float64) * (1.0 - frac.astype(np.float64))))
    choices = np.stack([val, p, q, t])  # (4, N): which one each channel takes per sector
    table = np.array([[0, 3, 1], [2, 0, 1], [1, 0, 3], [1, 2, 0], [3, 1, 0], [0, 1, 2]])
    pick = table[sector.astype(np.int64) % 6]  # (N, 3)
    rgb = np.take_along_axis(choices, pick.T, axis=0).T
    grey = sat == 0
    rgb[grey] = val[grey, None]
    return np.ascontiguousarray(rgb)


def _pillow_box_radius(sigma: float, passes: int = 3) -> np.float32:
    """Pillow's ``_gaussian_blur_radius`` in its C float / double steps."""
    f32 = np.float32
    sigma = f32(sigma)
    sigma2 = f32(sigma * sigma) / f32(passes)
    length = f32(np.sqrt(12.0 * float(sigma2) + 1.0))
    whole = f32(np.floor((float(length) - 1.0) / 2.0))
    frac = f32(f32(2) * whole + f32(1)) * f32(whole * f32(whole + f32(1)) - f32(3) * sigma2)
    frac = f32(frac / f32(f32(6) * f32(sigma2 - f32(whole + f32(1)) * f32(whole + f32(1)))))
    return f32(whole + frac)


def pillow_box_blur_params(sigma: float) -> Tuple[int, int, int]:
    """The integer box radius and Pillow's 24-bit fixed-point weights for ``sigma``.

    Returns:
        tuple: ``(radius, inner_weight, edge_weight)``: one pass computes
        ``(inner_weight * sum(x[i-r..i+r]) + edge_weight * (x[i-r-1] + x[i+r+1])
        + 2**23) >> 24`` with edge pixels replicated.
    """
    radius = _pillow_box_radius(sigma)
    whole = int(radius)
    inner = int(np.float32(1 << 24) / np.float32(radius * np.float32(2) + np.float32(1)))
    edge = ((1 << 24) - (whole * 2 + 1) * inner) // 2
    return whole, inner, edge


def pillow_gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Pillow's ``ImageFilter.GaussianBlur(sigma)`` on a uint8 image.

    Args:
        img (np.ndarray): (H, W) or (H, W, C) uint8, C <= 4.
        sigma (float): Pillow's ``radius`` (the Gaussian's standard deviation).

    Returns:
        np.ndarray: Same shape and dtype, Pillow's result byte for byte.
    """
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f'expected an (H, W[, C]) uint8 image, got {img.dtype} {img.shape}')
    if float(np.float32(sigma)) == 0.:
        return img.copy()
    radius, inner, edge = pillow_box_blur_params(sigma)
    # the weights / 2**24 are exact in float64 and so is every sum (multiples of 2**-24
    # below 256); + 2**-30 turns rint's ties-to-even into Pillow's (x + 2**23) >> 24
    kernel = np.array([edge] + [inner] * (2 * radius + 1) + [edge], np.float64) / float(1 << 24)
    row, col = kernel[None], kernel[:, None]
    out = img
    for kern in (row, row, row, col, col, col):
        # each pass rounded to an integer as Pillow's uint8, kept in float64 for the next
        out = cv2.filter2D(out, cv2.CV_64F, kern, delta=2.0**-30, borderType=cv2.BORDER_REPLICATE)
        np.rint(out, out=out)
    return out.astype(np.uint8).reshape(img.shape)
