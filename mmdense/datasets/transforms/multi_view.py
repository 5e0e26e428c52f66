# Copyright (c) mmdense contributors. All rights reserved.
"""Multi-view cropping that keeps the geometry between views.

mmpretrain's ``MultiView`` runs independent pipelines and forgets where each
view came from; dense methods need that geometry (SlotCon and CrOC align the
views' feature maps, CrOC places tokens in the original frame, ViCE and
MaskContrast carry region / saliency maps along with each view). These
transforms record it: each view's crop in the original image and its flip.
Pairwise overlaps are derived from those by
:func:`mmdense.structures.pairwise_overlap_boxes`.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform, Compose

from mmdense.registry import TRANSFORMS
# the box math lives in one place: mmdense.structures.view_geometry
from mmdense.structures.view_geometry import Box, box_area, box_intersection

_INTERPOLATIONS = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
}

# interpolations that ``antialias=True`` resizes like PIL (torchvision on PIL images)
_ANTIALIASED = ('bilinear', 'bicubic')

_GROUP_DEFAULTS = dict(
    num_views=1,
    size=224,
    scale=(0.08, 1.0),
    ratio=(3. / 4., 4. / 3.),
    flip_prob=0.5,
    interpolation='bicubic',
    antialias=None,  # None: the transform's ``antialias``
    overlap=True,
    size_coefficient=None,  # None: RandomResizedCrop's scale / ratio rule
)


def _position(rng, lo: int, hi: int) -> int:
    """Uniform integer in ``[lo, hi]``."""
    return int(rng.integers(lo, hi + 1))


def _centred_range(length: int, extent: int, centre: Optional[int]) -> Tuple[int, int]:
    """Start positions of a segment of ``length`` inside ``[0, extent)``.

    With a ``centre`` pixel index, only the starts whose segment contains that
    pixel (``start <= centre < start + length``); never empty as long as
    ``1 <= length <= extent`` and ``0 <= centre < extent``.
    """
    if centre is None:
        return 0, extent - length
    return max(0, centre + 1 - length), min(centre, extent - length)


def sample_resized_crop(rng: np.random.Generator,
                        height: int,
                        width: int,
                        scale: Tuple[float, float],
                        ratio: Tuple[float, float],
                        max_attempts: int = 10,
                        centre: Optional[Tuple[int, int]] = None) -> Box:
    """Sample a RandomResizedCrop box (torchvision's rule) in pixel units.

    Args:
        centre (tuple[int, int], optional): a pixel ``(x, y)`` (integer
            indices inside the image) that the crop must contain. The crop's
            size is drawn exactly as without it; its position is then drawn
            uniformly among the positions whose crop contains that pixel
            (bounded: no extra rejection loop).

    Returns:
        tuple: ``(x1, y1, x2, y2)`` with integer-valued corners, ``x2 - x1 >= 1``.
    """
    cx, cy = centre if centre is not None else (None, None)
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(max_attempts):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            y = _position(rng, *_centred_range(h, height, cy))
            x = _position(rng, *_centred_range(w, width, cx))
            return (x, y, x + w, y + h)
    # Fallback: the largest central crop whose aspect lies inside ``ratio``.
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    w, h = max(1, w), max(1, h)
    x, y = (width - w) // 2, (height - h) // 2
    if centre is not None:  # shift it (deterministically) to contain the centre
        lo, hi = _centred_range(w, width, cx)
        x = min(max(x, lo), hi)
        lo, hi = _centred_range(h, height, cy)
        y = min(max(y, lo), hi)
    return (x, y, x + w, y + h)


def sample_scaled_crop(rng: np.random.Generator,
                       height: int,
                       width: int,
                       out_size: Tuple[int, int],
                       coefficient: Tuple[float, float],
                       centre: Optional[Tuple[int, int]] = None) -> Box:
    """Sample a crop whose side is the view size times a resize coefficient.

    ViCE's rule (SPEC §3): ``beta ~ U(coefficient)`` and the crop is
    ``round(beta * out_h) x round(beta * out_w)`` original pixels (clipped to
    the image), so ``beta < 1`` zooms in and ``beta > 1`` zooms out. The
    position is drawn as in :func:`sample_resized_crop` (uniform, containing
    ``centre`` when given).

    Returns:
        tuple: ``(x1, y1, x2, y2)`` with integer-valued corners.
    """
    beta = rng.uniform(coefficient[0], coefficient[1])
    h = min(height, max(1, int(round(beta * out_size[0]))))
    w = min(width, max(1, int(round(beta * out_size[1]))))
    cx, cy = centre if centre is not None else (None, None)
    y = _position(rng, *_centred_range(h, height, cy))
    x = _position(rng, *_centred_range(w, width, cx))
    return (x, y, x + w, y + h)


def resize_nearest(arr: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Nearest-neighbour resize of any dtype (labels, region ids, masks).

    Output pixel ``i`` takes source pixel ``floor((i + 0.5) * in / out)``:
    pixel-centre aligned like bilinear / bicubic resizing (torch's
    'nearest-exact'), so a resized label map stays on top of the resized image.
    Pure indexing: no dtype conversion, any number of trailing channels.
    """
    in_h, in_w = arr.shape[:2]
    # exact integer form of floor((i + 0.5) * in / out)
    rows = np.minimum((2 * np.arange(out_h) + 1) * in_h // (2 * out_h), in_h - 1)
    cols = np.minimum((2 * np.arange(out_w) + 1) * in_w // (2 * out_w), in_w - 1)
    return arr[rows[:, None], cols[None, :]]


def _aa_kernels() -> dict:
    """torch's antialiased resampling ops (``out=`` overloads), by interpolation."""
    kernels = {}
    for mode, name in (('bicubic', '_upsample_bicubic2d_aa'), ('bilinear', '_upsample_bilinear2d_aa')):
        kernel = getattr(torch._C._nn, name, None)
        if kernel is not None:
            kernels[mode] = kernel
    return kernels


_AA_KERNELS = _aa_kernels()
# dtypes resized as they are (others go through float32)
_AA_DTYPES = frozenset(np.dtype(t) for t in (np.uint8, np.float32, np.float64))


def resize_antialiased(arr: np.ndarray, out_h: int, out_w: int,
                       interpolation: str = 'bicubic') -> np.ndarray:
    """Antialiased bilinear / bicubic resize, like PIL's ``Image.resize``.

    The official SlotCon / BYOL pipelines crop and resize PIL images with
    torchvision (``RandomResizedCrop(224, interpolation=BICUBIC)``), i.e.
    ``Image.resize(size, Image.BICUBIC)`` of the crop: a separable
    convolution whose kernel (Keys cubic, ``a = -0.5``) is stretched by the
    downscale factor, so downscaled views are low-pass filtered (no
    aliasing). OpenCV's ``INTER_CUBIC`` is a fixed 4-tap kernel
    (``a = -0.75``) that aliases when downscaling.

    This computes PIL's resampling with torch's antialiased kernels (those
    of ``F.interpolate(..., antialias=True)``, written to match PIL; AVX2
    code for uint8 images), writing straight into an ``H x W x C`` buffer.
    Measured on COCO photos (``tests/test_datasets/test_transforms/
    test_antialias.py``), against the Pillow of the official runs (< 13:
    horizontal pass, then vertical, each rounded to 8 bits): within 1 grey
    level on > 99.99 % of the pixels, max 2, mean absolute difference
    ~0.003. Pillow >= 13 runs the vertical pass first when the height
    shrinks much more than the width (python-pillow/Pillow#9549), which
    moves a few pixels next to saturated edges by up to ~20 levels (mean
    0.01-0.03). Per core it costs ~1.3x OpenCV's non-antialiased
    ``INTER_CUBIC`` (it reads every pixel of the crop) and ~5x less than
    PIL (``tools/analysis_tools/benchmark_crop_resize.py``).

    Args:
        arr (np.ndarray): ``H x W`` or ``H x W x C``; uint8 or floating point
            (other dtypes are resized in float32, then rounded and clipped
            back). Channels are resampled independently (BGR is fine).
        out_h, out_w (int): output size.
        interpolation (str): 'bicubic' or 'bilinear'.

    Returns:
        np.ndarray: ``out_h x out_w (x C)``, C-contiguous, ``arr``'s dtype.
    """
    if interpolation not in _ANTIALIASED:
        raise ValueError(f'resize_antialiased: interpolation must be one of {_ANTIALIASED}, '
                         f'got {interpolation!r}')
    squeeze = arr.ndim == 2
    src = arr[..., None] if squeeze else arr
    dtype = src.dtype
    if dtype not in _AA_DTYPES:
        src = src.astype(np.float32)
    elif not (src.flags.c_contiguous and src.flags.writeable):
        src = src.copy()  # the crop of the image: one copy of the crop
    # (1, C, H, W) views of H x W x C buffers (channels_last): no transposition on either side
    tensor = torch.from_numpy(src).permute(2, 0, 1)[None]
    channels = src.shape[2]
    with torch.no_grad():
        kernel = _AA_KERNELS.get(interpolation)
        try:
            buf = torch.empty((1, out_h, out_w, channels), dtype=tensor.dtype)
            kernel(tensor, [out_h, out_w], False, None, None, out=buf.permute(0, 3, 1, 2))
        except (TypeError, RuntimeError, NotImplementedError):  # pragma: no cover - old torch
            out = F.interpolate(tensor if tensor.is_floating_point() else tensor.float(),
                                size=(out_h, out_w), mode=interpolation, align_corners=False,
                                antialias=True)
            if out.dtype != tensor.dtype:
                out = out.round_().clamp_(0, 255).to(tensor.dtype)
            buf = out.permute(0, 2, 3, 1).contiguous()
    view = buf[0].numpy()
    if view.dtype != dtype:  # resized in float32
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            view = np.clip(np.rint(view), info.min, info.max)
        view = view.astype(dtype)
    return view[..., 0] if squeeze else view


# dtypes and channel counts that cv2.flip mirrors (numpy's copy of a reversed
# H x W x 3 uint8 view is ~40x slower)
_CV2_FLIP_DTYPES = frozenset(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16,
                                                   np.int32, np.float32, np.float64))


def hflip(arr: np.ndarray) -> np.ndarray:
    """Mirror the columns of an ``H x W (x C)`` array into a C-contiguous copy."""
    if (arr.dtype in _CV2_FLIP_DTYPES and arr.size and
            (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] <= 4))):
        return cv2.flip(np.ascontiguousarray(arr), 1).reshape(arr.shape)
    return np.ascontiguousarray(arr[:, ::-1])


class _GlobalRNGAdapter:
    """``np.random.Generator``-like access to numpy's global random state."""

    @staticmethod
    def uniform(low: float, high: float) -> float:
        return np.random.uniform(low, high)

    @staticmethod
    def integers(low: int, high: int) -> int:
        return np.random.randint(low, high)

    @staticmethod
    def random() -> float:
        return np.random.random()


_GlobalRNG = _GlobalRNGAdapter()


@TRANSFORMS.register_module()
class MultiViewRandomResizedCrop(BaseTransform):
    """Cut V RandomResizedCrop views in groups and record each view's geometry.

    Views come in groups (e.g. SlotCon: 2 x 224; CrOC/DINO: 2 global 224 +
    optional local 96; ViCE: M = 5 views around a shared centre). View 0 (the
    first view of the first group) is the *anchor*.

    **Overlap rule** (SPEC §1). Every later view of a group with
    ``overlap=True`` must intersect the anchor over at least
    ``min_overlap`` of its own (the later view's) area. Such a view is
    re-sampled up to ``max_tries`` times; if one fails, the anchor and all
    views are re-sampled (up to ``max_tries`` rounds). In the last round a
    view that still fails repeats the anchor's crop, so an empty intersection
    with the anchor is never emitted. Views of ``overlap=False`` groups (e.g.
    local crops) are sampled afterwards, once, without the rule. With one
    group of two views this consumes the random generator exactly as the
    former two-view crop (crop 1, the tries of crop 2, ..., then the flips of
    view 1 and view 2), so seeds reproduce the same crops, flips and pixels.

    **Shared centre** (ViCE). If ``results[centre_key]`` exists, an
    ``(x, y)`` point in original-image pixels (e.g. sampled by an earlier
    Canny-guided transform), every view's crop contains the pixel
    ``(floor(x), floor(y))`` (clipped into the image): the crop's size is
    drawn by the usual RandomResizedCrop rule and its position uniformly
    among the positions that contain that pixel (one draw per axis, no
    rejection). All views then share at least that pixel, so every pair
    overlaps. The overlap rule applies on top.

    **Maps.** Every key in ``results['seg_fields']`` (mmcv convention: e.g.
    ``gt_seg_map``, saliency masks, superpixel ids; ``H x W`` or
    ``H x W x C``, any dtype, same ``H x W`` as the image) is cut with each
    view, resized with nearest-neighbour sampling (pixel-centre aligned, see
    :func:`resize_nearest`) and flipped with its view.

    Required keys: ``img`` (H x W x C); optional ``seg_fields`` and their maps,
    ``centre_key``.

    Added / modified keys (V views, in group order):
        - ``img``: list of V views, view ``v`` of size ``view_sizes[v]``.
        - each ``seg_fields`` key: list of V maps, one per view (aligned with
          ``img``).
        - ``view_crops``: ``(V, 4)`` float32, each crop in original-image
          pixels ``(x1, y1, x2, y2)`` (integer-valued, before flipping).
        - ``view_flips``: ``(V,)`` bool, whether each view was mirrored.
        - ``view_sizes``: ``(V, 2)`` int64 output ``(h, w)`` of each view.
        - ``view_group_ids``: ``(V,)`` int64 group index of each view.
        - ``img_shape``: ``(h, w)`` of the anchor view.

    Pairwise overlaps are not stored: derive them with
    :func:`mmdense.structures.pairwise_overlap_boxes`.

    Args:
        view_groups (list[dict]): one dict per group with keys
            ``num_views`` (default 1), ``size`` (int or ``(h, w)``, default
            224), ``scale`` (default ``(0.08, 1.0)``), ``ratio`` (w / h,
            default ``(3/4, 4/3)``), ``flip_prob`` (default 0.5),
            ``interpolation`` ('bicubic' default, 'bilinear', 'area',
            'nearest' — the latter by pixel-centre indexing like the maps),
            ``antialias`` (default: the transform's ``antialias``),
            ``overlap`` (default True: the overlap rule applies) and
            ``size_coefficient`` (default None; a range ``(lo, hi)``: the
            crop side is ``beta * size`` with ``beta ~ U(lo, hi)`` instead
            of the scale / ratio rule, see :func:`sample_scaled_crop`;
            ViCE's resize coefficient).
        min_overlap (float): minimum intersection area with the anchor /
            the later view's area, in ``[0, 1)``.
        max_tries (int): re-sampling budget of each loop (per view, rounds).
        centre_key (str, optional): results key of a shared centre; ``None``
            disables the option.
        seed (int, optional): seed of a private generator (for tests); by
            default numpy's global generator is used, so mmengine's
            ``randomness`` and worker seeding apply.
        antialias (bool): resize 'bicubic' / 'bilinear' views like PIL's
            ``Image.resize`` of the crop (antialiased, what torchvision's
            ``RandomResizedCrop`` does on the PIL images of the official
            pipelines; see :func:`resize_antialiased`). False: OpenCV's
            ``INTER_CUBIC`` / ``INTER_LINEAR`` (not antialiased: downscaled
            views alias; faster: it reads only the pixels it samples).
            A group's ``antialias`` key overrides it. 'area' (already a box
            filter) and 'nearest' ignore it. Defaults to True.

    **Resizing.** Each view is cut from the image (``img[y1:y2, x1:x2]``) and
    the cut is resized, as torchvision does on PIL images (crop, then
    resize), so no pixel outside the crop enters the view.
    """

    def __init__(self,
                 view_groups: Sequence[dict] = (dict(num_views=2), ),
                 min_overlap: float = 0.01,
                 max_tries: int = 10,
                 centre_key: Optional[str] = 'crop_centre',
                 seed: Optional[int] = None,
                 antialias: bool = True) -> None:
        name = self.__class__.__name__
        if not isinstance(antialias, bool):
            raise ValueError(f'{name}: antialias must be a bool, got {antialias!r}')
        self.antialias = antialias
        if isinstance(view_groups, dict) or not view_groups:
            raise ValueError(f'{name}: view_groups must be a non-empty list of dicts, '
                             f'got {view_groups!r}')
        self.groups = [self._check_group(g, k) for k, g in enumerate(view_groups)]
        if not 0 <= min_overlap < 1:
            raise ValueError(f'{name}: min_overlap must be in [0, 1), got {min_overlap!r}')
        self.min_overlap = min_overlap
        self.max_tries = max(1, int(max_tries))
        self.centre_key = centre_key
        # per-view group index
        self.view_group_ids = [k for k, g in enumerate(self.groups) for _ in range(g['num_views'])]
        self.num_views = len(self.view_group_ids)
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def _check_group(self, group: dict, k: int) -> dict:
        name = f'{self.__class__.__name__}: view_groups[{k}]'
        if not isinstance(group, dict):
            raise ValueError(f'{name} must be a dict, got {type(group).__name__}')
        unknown = sorted(set(group) - set(_GROUP_DEFAULTS))
        if unknown:
            raise ValueError(f'{name}: unknown key(s) {unknown}; allowed: '
                             f'{sorted(_GROUP_DEFAULTS)}')
        g = dict(_GROUP_DEFAULTS, **group)
        size = g['size']
        size = (size, size) if isinstance(size, int) else tuple(size)
        if len(size) != 2 or not all(isinstance(s, int) and s >= 1 for s in size):
            raise ValueError(f'{name}: size must be a positive int or (h, w), got {g["size"]!r}')
        scale, ratio = tuple(g['scale']), tuple(g['ratio'])
        if len(scale) != 2 or not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f'{name}: scale must satisfy 0 < min <= max <= 1, got {scale!r}')
        if len(ratio) != 2 or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f'{name}: bad ratio {ratio!r} (need 0 < min <= max)')
        if g['interpolation'] not in _INTERPOLATIONS:
            raise ValueError(f'{name}: interpolation must be one of {sorted(_INTERPOLATIONS)}, '
                             f'got {g["interpolation"]!r}')
        if not 0 <= g['flip_prob'] <= 1:
            raise ValueError(f'{name}: flip_prob must be in [0, 1], got {g["flip_prob"]!r}')
        if not isinstance(g['num_views'], int) or g['num_views'] < 1:
            raise ValueError(f'{name}: num_views must be an int >= 1, got {g["num_views"]!r}')
        antialias = self.antialias if g['antialias'] is None else g['antialias']
        if not isinstance(antialias, bool):
            raise ValueError(f'{name}: antialias must be a bool, got {g["antialias"]!r}')
        coefficient = g['size_coefficient']
        if coefficient is not None:
            coefficient = tuple(coefficient)
            if len(coefficient) != 2 or not 0 < coefficient[0] <= coefficient[1]:
                raise ValueError(f'{name}: size_coefficient must be (lo, hi) with '
                                 f'0 < lo <= hi, got {g["size_coefficient"]!r}')
        return dict(g, size=size, scale=scale, ratio=ratio, overlap=bool(g['overlap']),
                    antialias=antialias, size_coefficient=coefficient)

    @property
    def rng(self) -> Union[np.random.Generator, _GlobalRNGAdapter]:
        # np.random's module-level functions share the global state that
        # mmengine seeds per worker; wrap it to the Generator API we use.
        return self._rng if self._rng is not None else _GlobalRNG

    def _group_of(self, view: int) -> dict:
        return self.groups[self.view_group_ids[view]]

    def _sample(self, view: int, height: int, width: int,
                centre: Optional[Tuple[int, int]]) -> Box:
        g = self._group_of(view)
        if g['size_coefficient'] is not None:
            return sample_scaled_crop(self.rng, height, width, g['size'], g['size_coefficient'],
                                      centre=centre)
        return sample_resized_crop(self.rng, height, width, g['scale'], g['ratio'],
                                   centre=centre)

    def _overlaps(self, anchor: Box, crop: Box) -> bool:
        inter = box_intersection(anchor, crop)
        return inter is not None and box_area(inter) >= self.min_overlap * box_area(crop)

    def sample_crops(self,
                     height: int,
                     width: int,
                     centre: Optional[Tuple[int, int]] = None) -> List[Box]:
        """Sample the V crops (pixels) under the overlap rule; see the class doc."""
        checked = [v for v in range(1, self.num_views) if self._group_of(v)['overlap']]
        crops: List[Optional[Box]] = [None] * self.num_views
        for rnd in range(self.max_tries):
            last_round = rnd == self.max_tries - 1
            anchor = self._sample(0, height, width, centre)
            crops[0] = anchor
            round_ok = True
            for v in checked:
                for _ in range(self.max_tries):
                    crop = self._sample(v, height, width, centre)
                    if self._overlaps(anchor, crop):
                        break
                else:
                    if not last_round:
                        round_ok = False
                        break
                    crop = anchor  # never an empty intersection
                crops[v] = crop
            if round_ok:
                break
        for v in range(1, self.num_views):
            if not self._group_of(v)['overlap']:
                crops[v] = self._sample(v, height, width, centre)
        return crops

    def _cut(self, img: np.ndarray, crop: Box, flipped: bool, size: Tuple[int, int],
             interpolation: Optional[str], antialias: bool = False) -> np.ndarray:
        """Cut, resize (``interpolation=None``: label maps) and flip one array."""
        x1, y1, x2, y2 = (int(v) for v in crop)
        patch = img[y1:y2, x1:x2]
        out_h, out_w = size
        if interpolation is None or interpolation == 'nearest':
            view = resize_nearest(patch, out_h, out_w)
        elif antialias and interpolation in _ANTIALIASED:
            view = resize_antialiased(patch, out_h, out_w, interpolation)
        else:
            view = cv2.resize(patch, (out_w, out_h), interpolation=_INTERPOLATIONS[interpolation])
            if view.ndim == 2 and img.ndim == 3:
                view = view[..., None]
        if flipped:
            return hflip(view)
        return np.ascontiguousarray(view)

    def _centre_pixel(self, results: Dict, height: int, width: int) -> Optional[Tuple[int, int]]:
        if self.centre_key is None or results.get(self.centre_key) is None:
            return None
        centre = np.asarray(results[self.centre_key], dtype=np.float64).reshape(-1)
        if centre.size != 2 or not np.all(np.isfinite(centre)):
            raise ValueError(f'{self.__class__.__name__}: results[{self.centre_key!r}] must be '
                             f'a finite (x, y) point in original pixels, got '
                             f'{results[self.centre_key]!r} (img_path={results.get("img_path")!r})')
        cx = int(min(max(math.floor(centre[0]), 0), width - 1))
        cy = int(min(max(math.floor(centre[1]), 0), height - 1))
        return cx, cy

    def _check_seg_fields(self, results: Dict, height: int, width: int) -> List[str]:
        keys = list(results.get('seg_fields') or [])
        for key in keys:
            if key not in results:
                raise ValueError(f'{self.__class__.__name__}: seg_fields lists {key!r} but '
                                 f'results has no such key (img_path={results.get("img_path")!r})')
            seg = results[key]
            shape = getattr(seg, 'shape', None)
            if shape is None or len(shape) < 2 or tuple(shape[:2]) != (height, width):
                got = 'not an array' if shape is None else 'x'.join(str(s) for s in shape[:2])
                raise ValueError(f'{self.__class__.__name__}: seg field {key!r} has size {got} '
                                 f'(h x w) but the image is {height}x{width} '
                                 f'(img_path={results.get("img_path")!r})')
        return keys

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        height, width = img.shape[:2]
        seg_keys = self._check_seg_fields(results, height, width)
        crops = self.sample_crops(height, width, self._centre_pixel(results, height, width))
        flips = [bool(self.rng.random() < self._group_of(v)['flip_prob'])
                 for v in range(self.num_views)]
        sizes = [self._group_of(v)['size'] for v in range(self.num_views)]
        interps = [self._group_of(v)['interpolation'] for v in range(self.num_views)]
        antialias = [self._group_of(v)['antialias'] for v in range(self.num_views)]
        for key in seg_keys:
            seg = results[key]
            results[key] = [self._cut(seg, c, f, s, None) for c, f, s in zip(crops, flips, sizes)]
        results['img'] = [self._cut(img, c, f, s, i, a)
                          for c, f, s, i, a in zip(crops, flips, sizes, interps, antialias)]
        results['view_crops'] = np.array(crops, dtype=np.float32).reshape(-1, 4)
        results['view_flips'] = np.array(flips, dtype=bool)
        results['view_sizes'] = np.array(sizes, dtype=np.int64).reshape(-1, 2)
        results['view_group_ids'] = np.array(self.view_group_ids, dtype=np.int64)
        results['img_shape'] = sizes[0]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(view_groups={self.groups}, '
                f'min_overlap={self.min_overlap}, max_tries={self.max_tries}, '
                f'centre_key={self.centre_key!r}, antialias={self.antialias})')


@TRANSFORMS.register_module()
class TwoViewRandomResizedCrop(MultiViewRandomResizedCrop):
    """Two views of one group: an alias of :class:`MultiViewRandomResizedCrop`.

    Kept for existing configs; equivalent to ``MultiViewRandomResizedCrop(
    view_groups=[dict(num_views=2, size=size, scale=scale, ratio=ratio,
    interpolation=interpolation, flip_prob=flip_prob)], min_overlap=...,
    max_tries=..., seed=..., antialias=...)`` (same outputs, same random
    stream). Like it, antialiased by default (``antialias=False``: the former
    OpenCV resize, bit-identical to the former two-view crop).
    """

    def __init__(self,
                 size: Union[int, Sequence[int]] = 224,
                 scale: Tuple[float, float] = (0.08, 1.0),
                 ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bicubic',
                 flip_prob: float = 0.5,
                 min_overlap: float = 0.01,
                 max_tries: int = 10,
                 seed: Optional[int] = None,
                 antialias: bool = True) -> None:
        super().__init__(
            view_groups=[
                dict(num_views=2, size=size, scale=scale, ratio=ratio,
                     interpolation=interpolation, flip_prob=flip_prob)
            ],
            min_overlap=min_overlap,
            max_tries=max_tries,
            seed=seed,
            antialias=antialias)


@TRANSFORMS.register_module()
class ViewwisePipeline(BaseTransform):
    """Apply a separate (photometric) pipeline to each view in ``results['img']``.

    SlotCon/BYOL use asymmetric photometric augmentation (blur p=1.0 on view 1,
    0.1 on view 2; solarize only on view 2), so each view gets its own list;
    with many views (CrOC: 2 global + 6 local) one list per *group* suffices.

    Each pipeline runs on a shallow copy of ``results`` in which ``img`` is
    its view, ``img_shape`` the view's size and every ``seg_fields`` key the
    view's own map (read-only: an in-place write raises). Only the
    transformed ``img`` is written back: the maps, the geometry and every
    other key are left untouched, so keep geometric transforms before the
    multi-view crop.

    Args:
        view_pipelines (list[list[dict]], optional): one list of transform
            configs per view; its length must equal the number of views.
        group_pipelines (list[list[dict]], optional): one list per view
            group of ``MultiViewRandomResizedCrop`` (views are mapped by
            ``results['view_group_ids']``). Give exactly one of the two.
    """

    def __init__(self,
                 view_pipelines: Optional[List[List[dict]]] = None,
                 group_pipelines: Optional[List[List[dict]]] = None) -> None:
        if (view_pipelines is None) == (group_pipelines is None):
            raise ValueError('ViewwisePipeline: give exactly one of view_pipelines (one list per '
                             'view) and group_pipelines (one list per view group)')
        pipelines = view_pipelines if view_pipelines is not None else group_pipelines
        if not pipelines:
            raise ValueError('ViewwisePipeline: view_pipelines/group_pipelines must not be empty')
        self.per_group = group_pipelines is not None
        self.pipelines = [Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in p])
                          for p in pipelines]

    def _pipeline_indices(self, results: Dict, num_views: int) -> List[int]:
        if not self.per_group:
            if num_views != len(self.pipelines):
                raise ValueError(f'ViewwisePipeline: expected a list of {len(self.pipelines)} '
                                 f'views in results["img"], got {num_views} '
                                 f'(img_path={results.get("img_path")!r})')
            return list(range(num_views))
        groups = results.get('view_group_ids')
        if groups is None or len(groups) != num_views:
            raise ValueError('ViewwisePipeline: group_pipelines needs results["view_group_ids"] '
                             'with one entry per view (put MultiViewRandomResizedCrop first)')
        groups = [int(g) for g in groups]
        if max(groups) >= len(self.pipelines) or min(groups) < 0:
            raise ValueError(f'ViewwisePipeline: views belong to groups {sorted(set(groups))} '
                             f'but {len(self.pipelines)} group_pipelines were given')
        return groups

    @staticmethod
    def _read_only(arr):
        if isinstance(arr, np.ndarray):
            arr = arr.view()
            arr.flags.writeable = False
        return arr

    def transform(self, results: Dict) -> Dict:
        views = results['img']
        if not isinstance(views, list):
            raise ValueError(f'ViewwisePipeline: expected a list of '
                             f'{"views" if self.per_group else f"{len(self.pipelines)} views"} '
                             f'in results["img"] (put a multi-view crop first), got '
                             f'{type(views).__name__}')
        indices = self._pipeline_indices(results, len(views))
        seg_keys = [k for k in (results.get('seg_fields') or []) if k in results]
        for key in seg_keys:
            if not isinstance(results[key], list) or len(results[key]) != len(views):
                raise ValueError(f'ViewwisePipeline: seg field {key!r} must hold one map per view '
                                 f'({len(views)}), as MultiViewRandomResizedCrop leaves it')
        out = []
        for v, (view, index) in enumerate(zip(views, indices)):
            sub = dict(results, img=view, img_shape=view.shape[:2])
            for key in seg_keys:
                sub[key] = self._read_only(results[key][v])
            sub = self.pipelines[index](sub)
            if sub is None:
                return None
            out.append(sub['img'])
        results['img'] = out
        return results

    def __repr__(self) -> str:
        kind = 'group_pipelines' if self.per_group else 'view_pipelines'
        return f'{self.__class__.__name__}({kind}={self.pipelines})'
