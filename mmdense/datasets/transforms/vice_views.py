# Copyright (c) mmdense contributors. All rights reserved.
"""ViCE's view generation around the shared multi-view crop (SPEC §3).

The pipeline (``configs/_base_/pipelines/vice_views.py``)::

    RobustLoadImageFromFile -> Superpixels -> CannyCentre
    -> MultiViewRandomResizedCrop(centre_key='crop_centre',
                                  view_groups=[dict(num_views=5,
                                                    size_coefficient=beta)])
    -> ViewwisePipeline (colour, blur) -> RegionMasking -> MutualRegionFilter
    -> PackMultiViewInputs

The crop, resize (nearest for the region maps) and flip of every view are the
shared :class:`MultiViewRandomResizedCrop`'s; this module only adds what is
ViCE's own: where the shared centre goes, the masking, and which regions the
loss keeps.
"""
from typing import List, Optional, Sequence, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmdense.registry import TRANSFORMS
from .bad_samples import check_policy

MASK_MODES = ('superpixel', 'rectangle')


def _generator(seed: Optional[int]):
    """A private generator for tests, else numpy's global state (seeded per
    worker by mmengine). Both offer ``uniform``, ``random``, ``permutation``."""
    return np.random.default_rng(seed) if seed is not None else np.random


def canny_density(img: np.ndarray, low: float = 100., high: float = 200.,
                  sigma: float = 0.05) -> np.ndarray:
    """Gaussian-filtered Canny edge map: where the image has content.

    Args:
        img (np.ndarray): ``H x W x 3`` BGR uint8 (or ``H x W`` gray).
        low, high (float): Canny hysteresis thresholds.
        sigma (float): Gaussian sigma as a fraction of ``min(H, W)``.

    Returns:
        np.ndarray: ``H x W`` float32, non-negative (all zero without edges).
    """
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    edges = cv2.Canny(np.ascontiguousarray(gray), low, high).astype(np.float32)
    sigma_px = max(0.5, sigma * min(gray.shape[:2]))
    return cv2.GaussianBlur(edges, (0, 0), sigma_px)


@TRANSFORMS.register_module()
class CannyCentre(BaseTransform):
    """Sample the views' shared centre from a blurred Canny edge map.

    The point ``(x, y)*`` is drawn with probability proportional to
    :func:`canny_density` (content-rich places, ViCE §3.2); an image without
    edges gets a uniform point. ``MultiViewRandomResizedCrop`` reads it from
    ``results[centre_key]`` and makes every view contain it, so all views
    share a sub-region.

    Added keys: ``centre_key`` (``(x, y)`` float, original pixels).

    Args:
        low, high (float): Canny thresholds (100, 200).
        sigma (float): Gaussian sigma, fraction of the short side (0.05).
        centre_key (str): results key (``'crop_centre'``, the crop's default).
        seed (int, optional): private generator (tests).
    """

    def __init__(self, low: float = 100., high: float = 200., sigma: float = 0.05,
                 centre_key: str = 'crop_centre', seed: Optional[int] = None) -> None:
        self.low, self.high, self.sigma = low, high, sigma
        self.centre_key = centre_key
        self.rng = _generator(seed)

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        density = canny_density(img, self.low, self.high, self.sigma).ravel()
        cumulative = np.cumsum(density, dtype=np.float64)
        total = cumulative[-1] if cumulative.size else 0.
        if total > 0:
            index = int(np.searchsorted(cumulative, self.rng.random() * total, side='right'))
            index = min(index, cumulative.size - 1)
        else:
            index = int(self.rng.random() * height * width)
        y, x = divmod(index, width)
        results[self.centre_key] = (float(x) + 0.5, float(y) + 0.5)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(low={self.low}, high={self.high}, '
                f'sigma={self.sigma}, centre_key={self.centre_key!r})')


@TRANSFORMS.register_module()
class RegionMasking(BaseTransform):
    """Replace part of each view with noise (ViCE's contextual masking).

    Two modes (SPEC §3, a switch):

    - ``'superpixel'`` (paper): random regions of the view's region map are
      masked until adding one more would exceed a coverage drawn from
      ``U(0, max_coverage)``;
    - ``'rectangle'`` (released code): one rectangle whose sides are drawn
      from ``U(0, max_coverage)`` times the view's sides.

    Masked pixels get ``mean + std * U(-1, 1)`` per channel (the released
    code's ``U(-1, 1)`` after normalisation, written in pixel values so the
    data pre-processor normalises it back to ``U(-1, 1)``). With
    ``drop_masked`` the masked pixels leave the region map (``-1``), so the
    loss never asks a region to be recognised from noise alone.

    Run it after the photometric ``ViewwisePipeline`` (the noise is not
    colour-jittered) and before :class:`MutualRegionFilter`.

    Args:
        mode (str): 'superpixel' or 'rectangle'.
        max_coverage (float): largest masked fraction (superpixel) or side
            fraction (rectangle), 0.25.
        prob (float): probability that a view is masked (1.0).
        skip_first (bool): leave view 0 (the target view) unmasked (False).
        mean, std (sequence): RGB pixel mean / std of the data pre-processor.
        key (str): the region map's results key.
        seed (int, optional): private generator (tests).
    """

    def __init__(self,
                 mode: str = 'superpixel',
                 max_coverage: float = 0.25,
                 prob: float = 1.0,
                 skip_first: bool = False,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 drop_masked: bool = True,
                 key: str = 'superpixels',
                 seed: Optional[int] = None) -> None:
        self.mode = check_policy('RegionMasking: mode', mode, MASK_MODES)
        if not 0 <= max_coverage <= 1:
            raise ValueError(f'RegionMasking: max_coverage must be in [0, 1], got {max_coverage}')
        self.max_coverage = max_coverage
        self.prob = prob
        self.skip_first = skip_first
        # images are BGR in the pipeline
        self.mean_bgr = np.asarray(mean, dtype=np.float32)[::-1]
        self.std_bgr = np.asarray(std, dtype=np.float32)[::-1]
        self.drop_masked = drop_masked
        self.key = key
        self.rng = _generator(seed)

    def _superpixel_mask(self, regions: np.ndarray) -> np.ndarray:
        ids, counts = np.unique(regions[regions >= 0], return_counts=True)
        budget = self.rng.uniform(0., self.max_coverage) * regions.size
        order = self.rng.permutation(len(ids))
        chosen = order[np.cumsum(counts[order]) <= budget]
        return np.isin(regions, ids[chosen])

    def _rectangle_mask(self, height: int, width: int) -> np.ndarray:
        h = int(round(self.rng.uniform(0., self.max_coverage) * height))
        w = int(round(self.rng.uniform(0., self.max_coverage) * width))
        y = int(self.rng.uniform(0., height - h + 1 - 1e-9))
        x = int(self.rng.uniform(0., width - w + 1 - 1e-9))
        mask = np.zeros((height, width), dtype=bool)
        mask[y:y + h, x:x + w] = True
        return mask

    def mask_of(self, view: np.ndarray, regions: Optional[np.ndarray]) -> np.ndarray:
        """``h x w`` bool mask of one view."""
        if self.mode == 'superpixel':
            if regions is None:
                raise KeyError(f"RegionMasking(mode='superpixel') needs the region map "
                               f'{self.key!r} (put Superpixels before the crop)')
            return self._superpixel_mask(regions)
        return self._rectangle_mask(*view.shape[:2])

    def transform(self, results: dict) -> dict:
        views: List[np.ndarray] = results['img']
        maps = results.get(self.key)
        if not isinstance(views, list) or (maps is not None and len(maps) != len(views)):
            raise ValueError('RegionMasking: expects the list of views (and one region map per '
                             'view) of MultiViewRandomResizedCrop')
        out_views, out_maps = [], []
        for v, view in enumerate(views):
            regions = None if maps is None else maps[v]
            if (v == 0 and self.skip_first) or self.rng.random() >= self.prob:
                out_views.append(view)
                out_maps.append(regions)
                continue
            mask = self.mask_of(view, regions)
            noise = self.mean_bgr + self.std_bgr * self.rng.uniform(
                -1., 1., size=(int(mask.sum()), view.shape[2]))
            view = view.copy()
            view[mask] = np.clip(np.rint(noise), 0, 255).astype(view.dtype)
            out_views.append(view)
            if regions is not None and self.drop_masked:
                regions = np.where(mask, -1, regions).astype(np.int32)
            out_maps.append(regions)
        results['img'] = out_views
        if maps is not None:
            results[self.key] = out_maps
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mode={self.mode!r}, max_coverage={self.max_coverage}, '
                f'prob={self.prob}, skip_first={self.skip_first}, drop_masked={self.drop_masked})')


def mutual_regions(maps: Sequence[np.ndarray], min_pixels: int = 1) -> List[np.ndarray]:
    """Keep the regions present in every view, numbered ``0 .. I-1``.

    Args:
        maps (sequence[np.ndarray]): M ``h x w`` integer region maps of one
            image (same ids = same region; ``< 0``: no region).
        min_pixels (int): a region counts as present in a view with at least
            this many pixels there.

    Returns:
        list[np.ndarray]: M int32 maps; a region present in all views gets
        the same new id ``i`` in all of them (ids ordered like the old ones),
        every other pixel ``-1``.
    """
    size = 1 + max((int(m.max()) for m in maps if m.size), default=-1)
    size = max(size, 1)
    present = np.ones(size, dtype=bool)
    for regions in maps:
        counts = np.bincount(regions[regions >= 0].ravel(), minlength=size)
        present &= counts >= min_pixels
    lut = np.full(size + 1, -1, dtype=np.int32)  # last entry: "no region"
    lut[:size][present] = np.arange(int(present.sum()), dtype=np.int32)
    return [lut[np.where(m >= 0, m, size)] for m in maps]


@TRANSFORMS.register_module()
class MutualRegionFilter(BaseTransform):
    """Keep only the regions present in all views (ViCE's mutual regions).

    Replaces each view's map in ``results[key]`` by :func:`mutual_regions`
    (ids ``0 .. I-1``, identical across views; ``-1`` elsewhere) and sets
    ``results['num_mutual_regions'] = I``.

    Args:
        key (str): the region map's results key.
        min_pixels (int): pixels a region needs in a view to count there.
    """

    def __init__(self, key: str = 'superpixels', min_pixels: int = 1) -> None:
        self.key = key
        self.min_pixels = min_pixels

    def transform(self, results: dict) -> dict:
        maps: Union[List[np.ndarray], None] = results.get(self.key)
        if not isinstance(maps, list):
            raise ValueError(f'MutualRegionFilter: results[{self.key!r}] must be one region map '
                             'per view (put Superpixels before MultiViewRandomResizedCrop)')
        results[self.key] = mutual_regions(maps, self.min_pixels)
        results['num_mutual_regions'] = int(max((m.max() for m in results[self.key]),
                                                default=-1)) + 1
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(key={self.key!r}, min_pixels={self.min_pixels})'
