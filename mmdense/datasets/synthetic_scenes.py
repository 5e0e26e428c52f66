# Copyright (c) mmdense contributors. All rights reserved.
"""Synthetic multi-object scenes rendered on the fly, with semantic labels.

Each scene is a background split into 1-3 *stuff* regions with a few *thing*
objects pasted on top. Every class has a fixed appearance: a two-tone texture
(stripes, checkerboard, dots, rings, grid, wavy lines, smooth blobs) with a
class-specific period and orientation, two colour tones, and for things a
class-specific silhouette. Classes are paired so that the two classes of a pair
share the same colour tones and differ only by texture (and shape), hence
colour alone cannot tell them apart while colour + local texture can.

Everything is a pure function of ``(seed, index)`` through
``np.random.default_rng([seed, index])``: no files, and the same image in any
process or dataloader worker.
"""
import colorsys
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.dataset import BaseDataset

from mmdense.registry import DATASETS

# Texture families, cycled over class ids: ``class_id % 8``. Stuff classes
# (the low ids) get the large-scale ones. Periods are in pixels for a
# 128-pixel image side and scale with the image size.
_TEXTURES: Tuple[Tuple[str, float, float], ...] = (
    # (kind, period, angle in radians)
    ('blobs', 22.0, 0.0),
    ('stripes', 9.0, math.pi / 2),  # horizontal lines
    ('checker', 12.0, 0.0),
    ('dots', 10.0, 0.0),
    ('stripes', 14.0, 0.0),  # vertical lines
    ('rings', 9.0, 0.0),
    ('grid', 10.0, 0.0),
    ('waves', 8.0, 0.0),
)

# Thing silhouettes, cycled over thing index: ``(class_id - S) % 8``.
_SHAPES: Tuple[str, ...] = ('disc', 'square', 'triangle', 'ellipse', 'star',
                            'cross', 'hexagon', 'diamond')

# Colour tones (RGB). Classes ``2k`` and ``2k + 1`` share a tone pair.
_TONES_RGB = np.array(
    [
        [70, 110, 60],  # olive green
        [200, 190, 120],  # sand
        [60, 80, 140],  # steel blue
        [210, 150, 90],  # tan
        [120, 60, 60],  # maroon
        [180, 180, 190],  # light grey
        [90, 90, 40],  # dark khaki
        [220, 120, 150],  # pink
    ],
    dtype=np.float32)

_REF_SIZE = 128.0


@dataclass(frozen=True, eq=False)
class ClassStyle:
    """Fixed appearance of one semantic class.

    Attributes:
        name (str): Class name, ``'stuff{i}'`` or ``'thing{j}'``.
        texture (str): Texture kind, one of ``blobs``, ``stripes``,
            ``checker``, ``dots``, ``rings``, ``grid``, ``waves``.
        period (float): Texture period in pixels at a 128-pixel image side.
        angle (float): Texture orientation in radians.
        tones (np.ndarray): The two colour tones, shape (2, 3), BGR float32.
        shape (str, optional): Silhouette of a thing class, None for stuff.
    """
    name: str
    texture: str
    period: float
    angle: float
    tones: np.ndarray
    shape: Optional[str] = None


@lru_cache(maxsize=32)
def class_styles(num_stuff_classes: int,
                 num_thing_classes: int) -> Tuple[ClassStyle, ...]:
    """Appearance of every class; ids ``0..S-1`` are stuff, ``S..C-1`` things.

    The table only depends on the class counts, not on any seed, so scenes of
    different seeds (e.g. train / held-out) share the class appearances.

    Args:
        num_stuff_classes (int): Number of stuff classes S.
        num_thing_classes (int): Number of thing classes T.

    Returns:
        tuple[ClassStyle]: C = S + T styles indexed by class id.
    """
    styles = []
    n_tex, n_tones = len(_TEXTURES), len(_TONES_RGB)
    for cls in range(num_stuff_classes + num_thing_classes):
        is_thing = cls >= num_stuff_classes
        cycle = cls // n_tex
        kind, period, angle = _TEXTURES[cls % n_tex]
        pair = cls // 2
        # later cycles re-use texture kinds at other scales / orientations
        # and with other tone combinations
        period *= 1.6**cycle
        angle += cycle * math.pi / 4
        tone_a = _TONES_RGB[(2 * pair) % n_tones]
        tone_b = _TONES_RGB[(2 * pair + 1 + 2 * (pair // 4)) % n_tones]
        tones = np.stack([tone_a, tone_b])[:, ::-1].copy()  # RGB -> BGR
        tones.setflags(write=False)
        if is_thing:
            idx = cls - num_stuff_classes
            name, shape = f'thing{idx}', _SHAPES[idx % len(_SHAPES)]
        else:
            name, shape = f'stuff{cls}', None
        styles.append(ClassStyle(name, kind, period, angle, tones, shape))
    return tuple(styles)


def _unit_polygon(shape: str) -> np.ndarray:
    """Vertices of a silhouette inscribed in the unit circle, shape (N, 2)."""

    def ngon(n: int, start: float = 0.0) -> np.ndarray:
        theta = start + np.arange(n) * 2 * np.pi / n
        return np.stack([np.cos(theta), np.sin(theta)], axis=1)

    if shape == 'disc':
        return ngon(32)
    if shape == 'square':
        return ngon(4, np.pi / 4)
    if shape == 'triangle':
        return ngon(3, -np.pi / 2)
    if shape == 'ellipse':
        return ngon(32) * np.array([1.0, 0.55])
    if shape == 'star':
        radii = np.tile([1.0, 0.45], 5)
        return ngon(10, -np.pi / 2) * radii[:, None]
    if shape == 'cross':
        a, b = 1.0, 0.33
        return np.array([[b, -a], [b, -b], [a, -b], [a, b], [b, b], [b, a],
                         [-b, a], [-b, b], [-a, b], [-a, -b], [-b, -b],
                         [-b, -a]])
    if shape == 'hexagon':
        return ngon(6)
    if shape == 'diamond':
        return ngon(4) * np.array([0.55, 1.0])
    raise ValueError(f'unknown shape {shape!r}')


_UNIT_POLYGONS: Dict[str, np.ndarray] = {s: _unit_polygon(s) for s in _SHAPES}


@lru_cache(maxsize=8)
def _pixel_grid(height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Read-only pixel coordinates ``(xx, yy)``, each (H, W) float32."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xx.setflags(write=False)
    yy.setflags(write=False)
    return xx, yy


@dataclass
class _Pattern:
    """Per-instance texture parameters, all in pixels / radians."""
    period: float
    angle: float
    phase: float
    offset: Tuple[float, float]
    center: Tuple[float, float]

    def uv(self, xx: np.ndarray,
           yy: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Coordinates along and across the orientation, each (h, w)."""
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        u = xx * cos + yy * sin + self.offset[0]
        v = yy * cos - xx * sin + self.offset[1]
        return u, v

    def wave(self, coord: np.ndarray) -> np.ndarray:
        """``0.5 + 0.5 sin(2 pi coord / period + phase)``, same shape."""
        return 0.5 + 0.5 * np.sin(coord * (2 * math.pi / self.period) +
                                  self.phase)


def _stripes(pat: _Pattern, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    cos, sin = math.cos(pat.angle), math.sin(pat.angle)
    return pat.wave(xx * cos + yy * sin)


def _checker(pat: _Pattern, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    u, v = pat.uv(xx, yy)
    cells = np.floor(u * (2 / pat.period)) + np.floor(v * (2 / pat.period))
    return np.mod(cells, 2)


def _dots(pat: _Pattern, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    u, v = pat.uv(xx, yy)
    du = np.mod(u, pat.period) - pat.period / 2
    dv = np.mod(v, pat.period) - pat.period / 2
    return du * du + dv * dv < (0.32 * pat.period)**2


def _rings(pat: _Pattern, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    return pat.wave(np.hypot(xx - pat.center[0], yy - pat.center[1]))


def _grid(pat: _Pattern, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    u, v = pat.uv(xx, yy)
    width = 0.25 * pat.period
    return (np.mod(u, pat.period) < width) | (np.mod(v, pat.period) < width)


def _waves(pat: _Pattern, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    u, v = pat.uv(xx, yy)
    wiggle = np.sin(v * (2 * math.pi / (2.5 * pat.period)))
    return pat.wave(u + wiggle * (0.4 * pat.period))


_TEXTURE_FNS = dict(
    stripes=_stripes,
    checker=_checker,
    dots=_dots,
    rings=_rings,
    grid=_grid,
    waves=_waves)


def _blobs(rng: np.random.Generator, period: float, height: int,
           width: int) -> np.ndarray:
    """Smooth random blobs of size ~period, (height, width) in [0, 1]."""
    coarse = rng.random((int(height / period) + 2, int(width / period) + 2),
                        dtype=np.float32)
    fine = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip((fine - 0.5) * 4 + 0.5, 0, 1)


def _texture(rng: np.random.Generator, style: ClassStyle, xx: np.ndarray,
             yy: np.ndarray, scale: float,
             center: Tuple[float, float]) -> np.ndarray:
    """Texture of one instance on the pixel coordinates ``xx``, ``yy``.

    Period, orientation and phase get a small per-instance jitter.

    Returns:
        np.ndarray: Values in [0, 1] (0 is the first tone), shape of ``xx``;
        float32, or bool for binary textures.
    """
    period = style.period * scale * rng.uniform(0.85, 1.15)
    if style.texture == 'blobs':
        return _blobs(rng, period, *xx.shape)
    pat = _Pattern(
        period=period,
        angle=style.angle + rng.normal(0.0, 0.08),
        phase=rng.uniform(0.0, 2 * math.pi),
        offset=tuple(rng.uniform(0.0, period, size=2).tolist()),
        center=center)
    return _TEXTURE_FNS[style.texture](pat, xx, yy)


def _paint(rng: np.random.Generator, mix: np.ndarray, owner: np.ndarray,
           box: Tuple[slice, slice], mask: np.ndarray, instance: int,
           style: ClassStyle, scale: float,
           center: Tuple[float, float]) -> np.ndarray:
    """Draw one instance where ``mask`` is set inside the window ``box``.

    Writes its texture into ``mix`` (H, W) float32 and ``instance`` into
    ``owner`` (H, W) int32 at ``mix[box][mask]`` (``mask``: bool, the shape
    of the window), and returns the instance's two tones, (2, 3) float32
    BGR, jittered in brightness and per channel.
    """
    tones = style.tones * rng.uniform(0.8, 1.2)
    tones = (tones + rng.normal(0.0, 10.0, size=(2, 3))).astype(np.float32)
    xx, yy = _pixel_grid(*mix.shape)
    texture = _texture(rng, style, xx[box], yy[box], scale, center)
    np.copyto(mix[box], texture, where=mask, casting='unsafe')
    np.copyto(owner[box], instance, where=mask)
    return tones


def _bands(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray,
           num_regions: int) -> np.ndarray:
    """Horizontal bands with wavy borders, (H, W) uint8 region ids."""
    height, width = xx.shape
    region = np.zeros((height, width), dtype=np.uint8)
    levels = np.sort(rng.uniform(0.2, 0.8, size=num_regions - 1)).tolist()
    for level in levels:
        amp = rng.uniform(0.02, 0.08) * height
        freq = 2 * math.pi / (rng.uniform(0.3, 1.0) * width)
        border = level * height + amp * np.sin(
            xx[0] * freq + rng.uniform(0, 2 * math.pi))
        region += yy > border
    return region


def _voronoi(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray,
             num_regions: int) -> np.ndarray:
    """Voronoi cells of random seeds in warped coordinates, (H, W) uint8."""
    height, width = xx.shape
    seeds = rng.uniform(0.0, 1.0, size=(num_regions, 2)) * [width, height]
    amp = rng.uniform(0.03, 0.1) * min(height, width)
    freq = 2 * math.pi / (rng.uniform(0.3, 0.8) * min(height, width))
    wx = xx + amp * np.sin(yy * freq + rng.uniform(0, 2 * math.pi))
    wy = yy + amp * np.sin(xx * freq + rng.uniform(0, 2 * math.pi))
    dist = [(wx - sx)**2 + (wy - sy)**2 for sx, sy in seeds.tolist()]
    return np.argmin(np.stack(dist), axis=0).astype(np.uint8)


def _stuff_layout(rng: np.random.Generator, height: int, width: int,
                  num_regions: int) -> np.ndarray:
    """Split the image into regions, (H, W) uint8 map of ids < num_regions.

    Either horizontal bands with wavy borders or a warped Voronoi partition.
    """
    if num_regions == 1:
        return np.zeros((height, width), dtype=np.uint8)
    xx, yy = _pixel_grid(height, width)
    split = _bands if rng.random() < 0.5 else _voronoi
    return split(rng, xx, yy, num_regions)


def _object_mask(
    rng: np.random.Generator, height: int, width: int, shape: str,
    object_scale: Tuple[float, float]
) -> Tuple[Tuple[slice, slice], np.ndarray, Tuple[float, float]]:
    """Random placement of one silhouette.

    Returns:
        tuple: The window ``(rows, cols)`` holding the object, its bool mask
        in that window, shape (h, w), and the object centre ``(x, y)``.
    """
    radius = 0.5 * rng.uniform(*object_scale) * min(height, width)
    cx = rng.uniform(0.1, 0.9) * width
    cy = rng.uniform(0.1, 0.9) * height
    theta = rng.uniform(0.0, 2 * np.pi)
    rot = np.array([[math.cos(theta), -math.sin(theta)],
                    [math.sin(theta), math.cos(theta)]])
    pts = _UNIT_POLYGONS[shape] @ rot.T * radius + [cx, cy]
    x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int), 0)
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
    x1, y1 = min(x1, width), min(y1, height)
    mask = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), dtype=np.uint8)
    # 4 fractional bits for sub-pixel vertex positions
    cv2.fillPoly(
        mask, [np.round((pts - [x0, y0]) * 16).astype(np.int32)], 1, shift=4)
    return np.s_[y0:y1, x0:x1], mask.view(bool), (cx, cy)


def _check_range(name: str, value: Sequence, low: float, high: float,
                 integer: bool) -> None:
    """Raise ValueError unless ``value`` is ``(a, b)``, low <= a <= b <= high."""
    types = (int, np.integer) if integer else (int, float, np.number)
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, types) and not isinstance(v, bool)
                  for v in value))
    if not ok or not low <= value[0] <= value[1] <= high:
        what = 'ints' if integer else 'numbers'
        raise ValueError(
            f'{name} must be a (min, max) pair of {what} with '
            f'{low} <= min <= max <= {high}, but got {value!r}')


def check_scene_args(num_stuff_classes: int,
                     num_thing_classes: int,
                     objects_per_image: Sequence[int],
                     object_scale: Sequence[float],
                     noise_std: float = 0.0) -> None:
    """Validate the scene arguments shared by the dataset and
    :func:`render_scene`, raising a ValueError naming the bad argument."""
    for name, value, low in (('num_stuff_classes', num_stuff_classes, 1),
                             ('num_thing_classes', num_thing_classes, 0)):
        if (not isinstance(value, (int, np.integer))
                or isinstance(value, bool) or value < low):
            raise ValueError(
                f'{name} must be an int >= {low}, but got {value!r}')
    num_classes = num_stuff_classes + num_thing_classes
    if not 2 <= num_classes <= 255:
        raise ValueError(
            'num_stuff_classes + num_thing_classes must be in [2, 255] '
            f'(uint8 labels), but got {num_stuff_classes} + '
            f'{num_thing_classes}')
    _check_range('objects_per_image', objects_per_image, 0, 1000, True)
    _check_range('object_scale', object_scale, 1e-3, 1.0, False)
    if (not isinstance(noise_std, (int, float, np.number))
            or isinstance(noise_std, bool) or not noise_std >= 0):
        raise ValueError(
            f'noise_std must be a number >= 0, but got {noise_std!r}')


def render_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    num_stuff_classes: int = 3,
    num_thing_classes: int = 5,
    objects_per_image: Tuple[int, int] = (2, 5),
    object_scale: Tuple[float, float] = (0.15, 0.45),
    noise_std: float = 6.0,
    return_objects: bool = False,
) -> Union[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Render one synthetic scene and its semantic segmentation.

    1-3 distinct stuff classes split the background (wavy horizontal bands or
    a warped Voronoi partition), then ``objects_per_image`` things of uniformly
    drawn classes are pasted in order, later ones occluding earlier ones.
    Uniform pixel noise of std ``noise_std`` is added last. Without things
    (``num_thing_classes=0``) no object is drawn.

    Speed: about 2 ms for a 128x128 scene and 6 ms at 256x256, on one CPU
    core (measured on a busy 2-core machine: an upper bound).

    Args:
        rng (np.random.Generator): Source of all randomness; the output is a
            pure function of its state and the other arguments.
        height (int): Image height H.
        width (int): Image width W.
        num_stuff_classes (int): Number of stuff classes S (ids 0..S-1).
        num_thing_classes (int): Number of thing classes T (ids S..S+T-1).
        objects_per_image (tuple[int, int]): Inclusive range of the number
            of things.
        object_scale (tuple[float, float]): Range of an object's diameter as
            a fraction of the shorter image side.
        noise_std (float): Std of the additive uniform pixel noise, in grey
            levels.
        return_objects (bool): Also return the planted objects' map (the
            random stream and the first two outputs are unchanged).

    Returns:
        tuple[np.ndarray, np.ndarray]: The image, (H, W, 3) uint8 in BGR
        order, and the class-id map, (H, W) uint8 with ids < S + T. With
        ``return_objects``, a third (H, W) uint8 map: 0 where no thing is
        visible, ``j + 1`` on the visible pixels of the ``j``-th pasted thing
        (an object hidden entirely by later ones has no pixel; MaskContrast's
        saliency-mask format).
    """
    check_scene_args(num_stuff_classes, num_thing_classes, objects_per_image,
                     object_scale, noise_std)
    styles = class_styles(num_stuff_classes, num_thing_classes)
    scale = min(height, width) / _REF_SIZE
    mix = np.zeros((height, width), dtype=np.float32)  # texture in [0, 1]
    owner = np.zeros((height, width), dtype=np.int32)  # instance index
    classes, tones = [], []

    num_regions = int(rng.integers(1, min(3, num_stuff_classes) + 1))
    stuff = rng.choice(num_stuff_classes, size=num_regions, replace=False)
    layout = _stuff_layout(rng, height, width, num_regions)
    for region, cls in enumerate(stuff):
        center = (rng.uniform(0, width), rng.uniform(0, height))
        tones.append(
            _paint(rng, mix, owner, np.s_[:, :], layout == region,
                   len(classes), styles[cls], scale, center))
        classes.append(cls)

    num_objects = int(rng.integers(objects_per_image[0],
                                   objects_per_image[1] + 1))
    for _ in range(num_objects if num_thing_classes else 0):
        cls = num_stuff_classes + int(rng.integers(num_thing_classes))
        box, mask, center = _object_mask(rng, height, width,
                                         styles[cls].shape, object_scale)
        tones.append(
            _paint(rng, mix, owner, box, mask, len(classes), styles[cls],
                   scale, center))
        classes.append(cls)

    tones = np.stack(tones)  # (K, 2, 3)
    canvas = np.take(tones[:, 0], owner, axis=0)  # (H, W, 3)
    contrast = np.take(tones[:, 1] - tones[:, 0], owner, axis=0)
    contrast *= mix[..., None]
    canvas += contrast
    if noise_std > 0:  # uniform noise in [-a, a] has std a / sqrt(3)
        noise = rng.random(canvas.shape, dtype=np.float32)
        noise -= 0.5
        noise *= np.float32(2 * math.sqrt(3) * noise_std)
        canvas += noise
    np.clip(canvas, 0, 255, out=canvas)
    canvas += 0.5  # round to nearest when truncating
    seg = np.take(np.asarray(classes, dtype=np.uint8), owner)
    if return_objects:
        dtype = np.uint8 if num_objects < 255 else np.uint16
        objects = np.where(owner >= num_regions, owner - num_regions + 1, 0).astype(dtype)
        return canvas.astype(np.uint8), seg, objects
    return canvas.astype(np.uint8), seg


def _make_metainfo(num_stuff_classes: int, num_thing_classes: int) -> dict:
    """Meta information: ``classes`` (names by id), ``palette`` (distinct
    RGB colours for visualisation), ``num_stuff_classes`` and
    ``num_thing_classes``."""
    styles = class_styles(num_stuff_classes, num_thing_classes)
    num_classes = len(styles)
    palette = []
    for cls in range(num_classes):
        rgb = colorsys.hsv_to_rgb(cls / num_classes, 0.75, 0.95)
        palette.append([int(round(255 * c)) for c in rgb])
    return dict(
        classes=tuple(style.name for style in styles),
        palette=palette,
        num_stuff_classes=num_stuff_classes,
        num_thing_classes=num_thing_classes)


@DATASETS.register_module()
class SyntheticSceneDataset(BaseDataset):
    """Synthetic multi-object scenes with semantic segmentation labels.

    Scenes are rendered by :func:`render_scene` on the fly from
    ``np.random.default_rng([seed, scene_idx])``: there are no files, and a
    given ``(seed, scene_idx)`` is bit-identical in any process or worker.
    Use another ``seed`` for held-out scenes; the class appearances only
    depend on the class counts, so they are shared across seeds.

    Class ids: stuff ``0..S-1``, things ``S..S+T-1``. Each class has a fixed
    two-tone texture and colour pair (and a silhouette for things); classes
    ``2k`` and ``2k+1`` share their colour tones, so colour alone does not
    separate them. Rendering a 128x128 scene takes about 2 ms on one CPU
    core.

    ``get_data_info`` returns a dict with:

    - ``img`` (np.ndarray): (H, W, 3) uint8, BGR as loaded by cv2 / mmcv.
    - ``gt_seg_map`` (np.ndarray): (H, W) uint8 class ids.
    - ``img_shape``, ``ori_shape`` (tuple[int, int]): ``(H, W)``.
    - ``img_path`` (str): ``'synthetic://{seed}/{scene_idx}'``, for logs
      only; do not put ``LoadImageFromFile`` in the pipeline.
    - ``seg_fields`` (list[str]): ``['gt_seg_map']`` so that mmseg /
      mmcv geometric transforms also transform the map.
    - ``reduce_zero_label`` (bool): False.
    - ``sample_idx`` (int) and ``scene_idx`` (int): position in the dataset
      and the id the scene is rendered from (they differ under ``indices``).
    - with ``object_masks=True`` only: ``gt_saliency`` (np.ndarray), (H, W)
      uint8 ids of the planted things (0 elsewhere; MaskContrast's saliency
      mask format, see :func:`render_scene`), also listed in ``seg_fields``
      so that it is cut with every view. The other keys are unchanged.

    The output suits mmseg's ``PackSegInputs`` and mmpretrain's transforms.

    Args:
        num_samples (int): Number of scenes. Defaults to 1000.
        img_size (int | tuple[int, int]): Image size, ``s`` or ``(h, w)``.
            Defaults to 128.
        num_stuff_classes (int): Number of stuff classes S >= 1.
            Defaults to 3.
        num_thing_classes (int): Number of thing classes T >= 0.
            Defaults to 5.
        objects_per_image (tuple[int, int]): Inclusive range of the number of
            things per scene. Defaults to (2, 5).
        object_scale (tuple[float, float]): Range of an object's diameter as
            a fraction of the shorter image side. Defaults to (0.15, 0.45).
        seed (int): Seed of the scene generator, >= 0. Defaults to 0.
        pipeline (Sequence): Transforms applied to each sample.
            Defaults to ().
        test_mode (bool): Whether the dataset is used for testing.
            Defaults to False.
        lazy_init (bool): Whether to defer building the (cheap) data list.
            Defaults to False.
        noise_std (float): Std of the additive uniform pixel noise, in grey
            levels. Defaults to 6.0.
        metainfo (dict, optional): Overrides of the generated meta
            information (``classes``, ``palette``...). Defaults to None.
        object_masks (bool): Also emit the planted objects' mask
            (``gt_saliency``). Defaults to False.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`
            (``indices``, ``max_refetch``...). ``serialize_data`` defaults
            to False here, the data list being tiny.
    """

    METAINFO = _make_metainfo(3, 5)

    def __init__(self,
                 num_samples: int = 1000,
                 img_size: Union[int, Tuple[int, int]] = 128,
                 num_stuff_classes: int = 3,
                 num_thing_classes: int = 5,
                 objects_per_image: Tuple[int, int] = (2, 5),
                 object_scale: Tuple[float, float] = (0.15, 0.45),
                 seed: int = 0,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 noise_std: float = 6.0,
                 metainfo: Optional[dict] = None,
                 object_masks: bool = False,
                 **kwargs) -> None:
        if (not isinstance(num_samples, (int, np.integer))
                or isinstance(num_samples, bool) or num_samples < 1):
            raise ValueError(
                f'num_samples must be an int >= 1, but got {num_samples!r}')
        if (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)
                or seed < 0):
            raise ValueError(f'seed must be an int >= 0, but got {seed!r}')
        check_scene_args(num_stuff_classes, num_thing_classes,
                         objects_per_image, object_scale, noise_std)
        self.num_samples = int(num_samples)
        self.img_size = self._parse_img_size(img_size)
        self.num_stuff_classes = int(num_stuff_classes)
        self.num_thing_classes = int(num_thing_classes)
        self.objects_per_image = tuple(int(n) for n in objects_per_image)
        self.object_scale = tuple(float(s) for s in object_scale)
        self.seed = int(seed)
        self.noise_std = float(noise_std)
        self.object_masks = bool(object_masks)

        meta = _make_metainfo(self.num_stuff_classes, self.num_thing_classes)
        meta.update(metainfo or {})
        # the data list is tiny: skip serialization (and its gc.collect())
        kwargs.setdefault('serialize_data', False)
        super().__init__(
            metainfo=meta,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            **kwargs)

    @staticmethod
    def _parse_img_size(img_size: Union[int, Tuple[int, int]]
                        ) -> Tuple[int, int]:
        """``s`` or ``(h, w)`` -> ``(h, w)``, each side at least 8 pixels."""
        if isinstance(img_size, (int, np.integer)):
            img_size = (img_size, img_size)
        if (not isinstance(img_size, (tuple, list)) or len(img_size) != 2
                or not all(
                    isinstance(s, (int, np.integer)) and not isinstance(
                        s, bool) and s >= 8 for s in img_size)):
            raise ValueError('img_size must be an int or an (h, w) pair of '
                             f'ints >= 8, but got {img_size!r}')
        return int(img_size[0]), int(img_size[1])

    @property
    def num_classes(self) -> int:
        """Number of semantic classes C = S + T."""
        return self.num_stuff_classes + self.num_thing_classes

    def load_data_list(self) -> List[dict]:
        """One cheap entry per scene; the image is rendered on access."""
        return [
            dict(sample_idx=i, scene_idx=i) for i in range(self.num_samples)
        ]

    def render(self, scene_idx: int) -> Tuple[np.ndarray, np.ndarray]:
        """Render scene ``scene_idx``: (H, W, 3) uint8 BGR, (H, W) uint8."""
        rng = np.random.default_rng([self.seed, int(scene_idx)])
        return render_scene(rng, *self.img_size, self.num_stuff_classes,
                            self.num_thing_classes, self.objects_per_image,
                            self.object_scale, self.noise_std)

    def render_objects(self, scene_idx: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like :meth:`render`, plus the (H, W) planted-object ids."""
        rng = np.random.default_rng([self.seed, int(scene_idx)])
        return render_scene(rng, *self.img_size, self.num_stuff_classes,
                            self.num_thing_classes, self.objects_per_image,
                            self.object_scale, self.noise_std, return_objects=True)

    def get_data_info(self, idx: int) -> dict:
        """Render the ``idx``-th scene; see the class docstring for keys."""
        info = super().get_data_info(idx)
        scene_idx = info.get('scene_idx', info['sample_idx'])
        if self.object_masks:
            img, seg, objects = self.render_objects(scene_idx)
            info.update(gt_saliency=objects)
        else:
            img, seg = self.render(scene_idx)
        info.update(
            img=img,
            gt_seg_map=seg,
            img_shape=self.img_size,
            ori_shape=self.img_size,
            img_path=f'synthetic://{self.seed}/{scene_idx}',
            seg_fields=['gt_seg_map', 'gt_saliency'] if self.object_masks else ['gt_seg_map'],
            reduce_zero_label=False,
            scene_idx=scene_idx)
        return info
