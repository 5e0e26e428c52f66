# Copyright (c) mmdense contributors. All rights reserved.
"""SLIC superpixel region maps: computed online or read from a cache.

A region map is an ``H x W`` integer array (``int32``) of region ids
``0 .. R-1`` over the full image, the ``A`` of ViCE (SPEC §3). It is added to
``results['seg_fields']`` so :class:`MultiViewRandomResizedCrop` cuts,
resizes (nearest) and flips it with every view.

Two SLIC implementations are wrapped, never re-implemented:

- ``'opencv'``: ``cv2.ximgproc.createSuperpixelSLIC`` (opencv-contrib; the
  official ViCE code): region size 20, ruler 10, 5 iterations, on a
  3 x 3-blurred image;
- ``'skimage'``: ``skimage.segmentation.slic`` with ``n_segments = H W /
  region_size^2``, ``compactness = ruler`` and ``max_num_iter = num_iters``
  (same blur), for installs without opencv-contrib.

``backend='auto'`` takes OpenCV when ``cv2.ximgproc`` exists, else
scikit-image (see ``docs/methods/vice.md`` for the benchmark).

Precomputed maps (``tools/dataset_converters/make_superpixels.py``) are one
``.npz`` file per image (key ``superpixels``), at
:func:`superpixel_cache_path`. They obey the image policy: a file that
cannot be read or does not match its image is an error naming the file, or
with ``invalid='skip'`` a logged skip recorded by ``BadSampleReportHook``.
"""
import os
import os.path as osp
import zipfile
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmdense.registry import TRANSFORMS
from mmdense.utils.fileio import sidecar_path
from .bad_samples import check_policy, display_path, record_bad_sample

SLIC_BACKENDS = ('auto', 'opencv', 'skimage')
CACHE_KEY = 'superpixels'


class SuperpixelFileError(ValueError):
    """A precomputed region map cannot be read or does not fit its image."""


def has_opencv_slic() -> bool:
    """Whether OpenCV's contrib SLIC (``cv2.ximgproc``) is installed."""
    return hasattr(cv2, 'ximgproc') and hasattr(cv2.ximgproc, 'createSuperpixelSLIC')


def resolve_backend(backend: str) -> str:
    """``'opencv'`` or ``'skimage'`` for a requested backend."""
    check_policy('slic backend', backend, SLIC_BACKENDS)
    if backend == 'auto':
        return 'opencv' if has_opencv_slic() else 'skimage'
    if backend == 'opencv' and not has_opencv_slic():
        raise ImportError("SLIC backend 'opencv' needs cv2.ximgproc (pip install "
                          "opencv-contrib-python-headless); use backend='skimage' or 'auto'")
    return backend


def slic_superpixels(img: np.ndarray,
                     region_size: int = 20,
                     ruler: float = 10.,
                     num_iters: int = 5,
                     blur_size: int = 3,
                     backend: str = 'auto') -> np.ndarray:
    """SLIC region map of one image.

    Args:
        img (np.ndarray): ``H x W x 3`` uint8 BGR image (or ``H x W`` gray).
        region_size (int): average superpixel side in pixels (20).
        ruler (float): compactness (OpenCV's ruler / scikit-image's
            compactness, 10).
        num_iters (int): SLIC iterations (5).
        blur_size (int): side of the box blur applied first (3; 0 or 1: none).
        backend (str): 'auto', 'opencv' or 'skimage'.

    Returns:
        np.ndarray: ``H x W`` int32 region ids, consecutive from 0.
    """
    backend = resolve_backend(backend)
    if blur_size and blur_size > 1:
        img = cv2.blur(img, (blur_size, blur_size))
    if backend == 'opencv':
        slic = cv2.ximgproc.createSuperpixelSLIC(img, algorithm=cv2.ximgproc.SLIC,
                                                 region_size=int(region_size),
                                                 ruler=float(ruler))
        slic.iterate(int(num_iters))
        labels = slic.getLabels()
    else:
        from skimage.segmentation import slic
        height, width = img.shape[:2]
        rgb = img[..., ::-1] if img.ndim == 3 else img
        labels = slic(np.ascontiguousarray(rgb),
                      n_segments=max(1, round(height * width / region_size**2)),
                      compactness=float(ruler), max_num_iter=int(num_iters), start_label=0,
                      channel_axis=-1 if img.ndim == 3 else None)
    _, labels = np.unique(labels.ravel(), return_inverse=True)
    return labels.reshape(img.shape[:2]).astype(np.int32)


def superpixel_cache_path(img_path: str, cache_dir: str, img_root: Optional[str] = None) -> str:
    """Where the region map of ``img_path`` is stored:
    ``<cache_dir>/<img_path relative to img_root, extension .npz>``
    (:func:`mmdense.utils.fileio.sidecar_path`)."""
    return sidecar_path(img_path, cache_dir, img_root, suffix='.npz')


def save_superpixels(path: str, labels: np.ndarray) -> None:
    """Write one compressed region map (atomically: a partial file is never
    left under its final name, so an interrupted conversion resumes)."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    dtype = np.uint16 if labels.max(initial=0) < 2**16 else np.int32
    tmp = f'{path}.tmp{os.getpid()}.npz'
    np.savez_compressed(tmp, **{CACHE_KEY: labels.astype(dtype)})
    os.replace(tmp, path)


def load_superpixels(path: str, shape: Optional[tuple] = None) -> np.ndarray:
    """Read a region map written by :func:`save_superpixels`.

    Args:
        path (str): the ``.npz`` file.
        shape (tuple, optional): the image's ``(H, W)``; a map of another
            size is an error.

    Returns:
        np.ndarray: ``H x W`` int32.

    Raises:
        FileNotFoundError: no such file.
        SuperpixelFileError: unreadable, no ``superpixels`` array, not an
            integer ``H x W`` map, negative ids, or the wrong size (the
            message names the file and the problem).
    """
    name = display_path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if CACHE_KEY not in data:
                raise SuperpixelFileError(f'superpixel file {name}: no {CACHE_KEY!r} array '
                                          f'(has {sorted(data.files)})')
            labels = data[CACHE_KEY]
    except FileNotFoundError:
        raise
    except SuperpixelFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise SuperpixelFileError(f'superpixel file {name} cannot be read '
                                  f'({type(err).__name__}: {err})') from None
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise SuperpixelFileError(f'superpixel file {name}: expected an integer H x W map, got '
                                  f'{labels.dtype} of shape {labels.shape}')
    if shape is not None and tuple(labels.shape) != tuple(shape[:2]):
        raise SuperpixelFileError(f'superpixel file {name}: size {labels.shape[0]} x '
                                  f'{labels.shape[1]} differs from the image\'s '
                                  f'{shape[0]} x {shape[1]}')
    if labels.size and labels.min() < 0:
        raise SuperpixelFileError(f'superpixel file {name}: negative region ids')
    return labels.astype(np.int32)


@TRANSFORMS.register_module()
class Superpixels(BaseTransform):
    """Add a SLIC region map of the full image as a seg field.

    With ``cache_dir``, the map precomputed by
    ``tools/dataset_converters/make_superpixels.py`` is read when its file
    exists (off the training hot path); otherwise, or without a cache, SLIC
    runs here. A cache file that exists but cannot be read or does not match
    the image follows ``invalid``: ``'raise'`` (a
    :class:`SuperpixelFileError` naming the file and the problem) or
    ``'skip'`` (logged and recorded in ``bad_samples.json``; the sample is
    dropped and the dataset draws another). A missing cache file follows
    ``missing``: ``'compute'`` (default: SLIC online), ``'raise'`` or
    ``'skip'``.

    Required keys: ``img`` (``H x W x 3`` BGR uint8), ``img_path`` with a
    cache. Added keys: ``key`` (``H x W`` int32), listed in ``seg_fields``.

    Args:
        region_size (int): SLIC average region side (20).
        ruler (float): SLIC compactness (10).
        num_iters (int): SLIC iterations (5).
        blur_size (int): box blur before SLIC (3).
        backend (str): 'auto', 'opencv' or 'skimage' (see the module doc).
        cache_dir (str, optional): folder of precomputed maps.
        img_root (str, optional): image folder the cache mirrors (see
            :func:`superpixel_cache_path`).
        missing (str): 'compute', 'raise' or 'skip' for a missing cache file.
        invalid (str): 'raise' or 'skip' for a bad cache file.
        key (str): results key of the map.
    """

    def __init__(self,
                 region_size: int = 20,
                 ruler: float = 10.,
                 num_iters: int = 5,
                 blur_size: int = 3,
                 backend: str = 'auto',
                 cache_dir: Optional[str] = None,
                 img_root: Optional[str] = None,
                 missing: str = 'compute',
                 invalid: str = 'raise',
                 key: str = 'superpixels') -> None:
        if region_size < 2:
            raise ValueError(f'Superpixels: region_size must be >= 2, got {region_size}')
        self.region_size = region_size
        self.ruler = ruler
        self.num_iters = num_iters
        self.blur_size = blur_size
        self.backend = resolve_backend(backend)
        self.cache_dir = cache_dir
        self.img_root = img_root
        self.missing = check_policy('Superpixels: missing', missing, ('compute', 'raise', 'skip'))
        self.invalid = check_policy('Superpixels: invalid', invalid)
        self.key = key

    def compute(self, img: np.ndarray) -> np.ndarray:
        """SLIC of one image with this transform's settings."""
        return slic_superpixels(img, self.region_size, self.ruler, self.num_iters,
                                self.blur_size, self.backend)

    def _from_cache(self, results: dict) -> Optional[np.ndarray]:
        """The cached map; None when it must be computed; False to skip."""
        path = superpixel_cache_path(results['img_path'], self.cache_dir, self.img_root)
        try:
            return load_superpixels(path, results['img'].shape[:2])
        except FileNotFoundError:
            if self.missing == 'compute':
                return None
            reason = 'precomputed superpixel file not found'
            if self.missing == 'raise':
                raise FileNotFoundError(f'{reason}: {display_path(path)} (run tools/'
                                        'dataset_converters/make_superpixels.py)') from None
            record_bad_sample(path, reason, kind='superpixel map')
            return False
        except SuperpixelFileError as err:
            if self.invalid == 'raise':
                raise
            record_bad_sample(path, str(err), kind='superpixel map')
            return False

    def transform(self, results: dict) -> Optional[dict]:
        labels = None
        if self.cache_dir is not None and results.get('img_path'):
            labels = self._from_cache(results)
            if labels is False:
                return None
        if labels is None:
            labels = self.compute(results['img'])
        results[self.key] = labels
        seg_fields = list(results.get('seg_fields') or [])
        if self.key not in seg_fields:
            seg_fields.append(self.key)
        results['seg_fields'] = seg_fields
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(region_size={self.region_size}, ruler={self.ruler}, '
                f'num_iters={self.num_iters}, backend={self.backend!r}, '
                f'cache_dir={self.cache_dir!r})')
