# Copyright (c) mmdense contributors. All rights reserved.
"""Multi-view cropping that keeps the geometry between views.

mmpretrain's ``MultiView`` runs independent pipelines and forgets where each
view came from; dense methods need that geometry (SlotCon and CrOC align the
views' feature maps, CrOC places tokens in the original frame). These
transforms record it.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmdense.registry import TRANSFORMS

Box = Tuple[float, float, float, float]  # x1, y1, x2, y2 in original-image pixels

_INTERPOLATIONS = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
}


def sample_resized_crop(rng: np.random.Generator,
                        height: int,
                        width: int,
                        scale: Tuple[float, float],
                        ratio: Tuple[float, float],
                        max_attempts: int = 10) -> Box:
    """Sample a RandomResizedCrop box (torchvision's rule) in pixel units.

    Returns:
        tuple: ``(x1, y1, x2, y2)`` with integer-valued corners, ``x2 - x1 >= 1``.
    """
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(max_attempts):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            y = int(rng.integers(0, height - h + 1))
            x = int(rng.integers(0, width - w + 1))
            return (x, y, x + w, y + h)
    # Fallback: the largest central crop whose aspect lies inside ``ratio``.
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    x, y = (width - w) // 2, (height - h) // 2
    return (x, y, x + w, y + h)


def box_intersection(a: Box, b: Box) -> Optional[Box]:
    """Intersection of two boxes, or ``None`` when it is empty."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    if x2 <= x1 or y2 <= y1:
        return None
    return (x1, y1, x2, y2)


def box_area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def box_in_view(box: Box, crop: Box, flipped: bool) -> np.ndarray:
    """Express ``box`` in the normalised frame of a view cut from ``crop``.

    Args:
        box: region in original-image pixels.
        crop: the view's crop in original-image pixels.
        flipped: whether the view was mirrored horizontally after cropping.

    Returns:
        np.ndarray: ``(4,)`` float32 ``(x1, y1, x2, y2)`` in ``[0, 1]`` of the
        view (a flipped view maps ``x1' = 1 - x2``, ``x2' = 1 - x1``).
    """
    cw, ch = crop[2] - crop[0], crop[3] - crop[1]
    x1, x2 = (box[0] - crop[0]) / cw, (box[2] - crop[0]) / cw
    y1, y2 = (box[1] - crop[1]) / ch, (box[3] - crop[1]) / ch
    if flipped:
        x1, x2 = 1.0 - x2, 1.0 - x1
    return np.array([x1, y1, x2, y2], dtype=np.float32)


@TRANSFORMS.register_module()
class TwoViewRandomResizedCrop(BaseTransform):
    """Cut two overlapping RandomResizedCrop views and record their overlap.

    View 2 is re-sampled up to ``max_tries`` times until the views' intersection
    covers at least ``min_overlap`` of view 2's area; if that fails, view 1 is
    re-sampled too (``max_tries`` rounds). Should every round fail, view 2
    repeats view 1's crop, so an empty intersection is never emitted (the
    official SlotCon code silently keeps such pairs with an inverted box).

    Required keys: ``img`` (H x W x C uint8).

    Added / modified keys:
        - ``img``: list of the two views, each ``size x size x C``.
        - ``view_boxes``: ``(2, 4)`` float32, the intersection of the two crops
          in each view's own normalised frame (after its flip).
        - ``view_flips``: ``(2,)`` bool, whether each view was mirrored.
        - ``view_crops``: ``(2, 4)`` float32, each crop in original-image pixels
          ``(x1, y1, x2, y2)`` (before flipping; for methods that need absolute
          positions, e.g. CrOC).
        - ``img_shape``: ``(size, size)``.

    Args:
        size (int | tuple): output size of each view ``(h, w)`` or an int.
        scale (tuple): range of the crop's area relative to the image.
        ratio (tuple): range of the crop's aspect ratio (w / h).
        interpolation (str): 'bicubic' (default, as SlotCon), 'bilinear', ...
        flip_prob (float): probability of a horizontal flip, drawn per view.
        min_overlap (float): minimum intersection area / view-2 area.
        max_tries (int): re-sampling budget for each of the two loops.
        seed (int, optional): seed of a private generator (for tests); by
            default numpy's global generator is used, so mmengine's
            ``randomness`` and worker seeding apply.
    """

    def __init__(self,
                 size: Union[int, Sequence[int]] = 224,
                 scale: Tuple[float, float] = (0.08, 1.0),
                 ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bicubic',
                 flip_prob: float = 0.5,
                 min_overlap: float = 0.01,
                 max_tries: int = 10,
                 seed: Optional[int] = None) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f'TwoViewRandomResizedCrop: size must be a positive int or '
                             f'(h, w), got {size!r}')
        if not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f'TwoViewRandomResizedCrop: scale must satisfy '
                             f'0 < min <= max <= 1, got {scale!r}')
        if not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f'TwoViewRandomResizedCrop: bad ratio {ratio!r}')
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f'TwoViewRandomResizedCrop: interpolation must be one of '
                             f'{sorted(_INTERPOLATIONS)}, got {interpolation!r}')
        if not 0 <= min_overlap < 1:
            raise ValueError(f'TwoViewRandomResizedCrop: min_overlap must be in [0, 1), '
                             f'got {min_overlap!r}')
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.interpolation = interpolation
        self.flip_prob = flip_prob
        self.min_overlap = min_overlap
        self.max_tries = max(1, int(max_tries))
        self._rng = np.random.default_rng(seed) if seed is not None else None

    @property
    def rng(self) -> Union[np.random.Generator, 'np.random.RandomState']:
        # np.random's module-level functions share the global state that
        # mmengine seeds per worker; wrap it to the Generator API we use.
        return self._rng if self._rng is not None else _GlobalRNG

    def sample_crops(self, height: int, width: int) -> Tuple[Box, Box, Box]:
        """Sample two crops and their (non-empty) intersection in pixels."""
        rng = self.rng
        for _ in range(self.max_tries):
            crop1 = sample_resized_crop(rng, height, width, self.scale, self.ratio)
            for _ in range(self.max_tries):
                crop2 = sample_resized_crop(rng, height, width, self.scale, self.ratio)
                inter = box_intersection(crop1, crop2)
                if inter is not None and box_area(inter) >= self.min_overlap * box_area(crop2):
                    return crop1, crop2, inter
        return crop1, crop1, crop1

    def _cut(self, img: np.ndarray, crop: Box, flipped: bool) -> np.ndarray:
        x1, y1, x2, y2 = (int(v) for v in crop)
        patch = img[y1:y2, x1:x2]
        out_h, out_w = self.size
        view = cv2.resize(patch, (out_w, out_h), interpolation=_INTERPOLATIONS[self.interpolation])
        if view.ndim == 2 and img.ndim == 3:
            view = view[..., None]
        if flipped:
            view = np.ascontiguousarray(view[:, ::-1])
        return view

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        height, width = img.shape[:2]
        crop1, crop2, inter = self.sample_crops(height, width)
        flips = [bool(self.rng.random() < self.flip_prob) for _ in range(2)]
        crops = (crop1, crop2)
        results['img'] = [self._cut(img, c, f) for c, f in zip(crops, flips)]
        results['view_boxes'] = np.stack([box_in_view(inter, c, f) for c, f in zip(crops, flips)])
        results['view_flips'] = np.array(flips, dtype=bool)
        results['view_crops'] = np.array(crops, dtype=np.float32)
        results['img_shape'] = self.size
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, scale={self.scale}, '
                f'ratio={self.ratio}, interpolation={self.interpolation}, '
                f'flip_prob={self.flip_prob}, min_overlap={self.min_overlap})')


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
class ViewwisePipeline(BaseTransform):
    """Apply a separate pipeline to each view in ``results['img']``.

    SlotCon/BYOL use asymmetric photometric augmentation (blur p=1.0 on view 1,
    0.1 on view 2; solarize only on view 2), so each view gets its own list.
    Each pipeline sees a shallow copy of ``results`` whose ``img`` is its view;
    only the transformed ``img`` is written back.

    Args:
        view_pipelines (list[list[dict]]): one list of transform configs per
            view; its length must equal the number of views.
    """

    def __init__(self, view_pipelines: List[List[dict]]) -> None:
        if not view_pipelines:
            raise ValueError('ViewwisePipeline: view_pipelines must not be empty')
        self.pipelines = [Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in p])
                          for p in view_pipelines]

    def transform(self, results: Dict) -> Dict:
        views = results['img']
        if not isinstance(views, list) or len(views) != len(self.pipelines):
            raise ValueError(f'ViewwisePipeline: expected a list of {len(self.pipelines)} views '
                             f'in results["img"] (put a multi-view crop first), got '
                             f'{type(views).__name__} of length {len(views) if isinstance(views, list) else "-"}')
        out = []
        for view, pipeline in zip(views, self.pipelines):
            sub = dict(results, img=view)
            sub = pipeline(sub)
            if sub is None:
                return None
            out.append(sub['img'])
        results['img'] = out
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(pipelines={self.pipelines})'
