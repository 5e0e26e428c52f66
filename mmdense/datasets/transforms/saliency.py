# Copyright (c) mmdense contributors. All rights reserved.
"""Saliency masks for MaskContrast: loading precomputed masks, and the rule
that keeps an object in every view.

Mask format (MaskContrast's): a single-channel 8- or 16-bit PNG of the
image's size, 0 = background, every id > 0 one object. Make them with
``tools/dataset_converters/make_saliency_masks.py`` or bring your own
(``docs/methods/maskcontrast.md``).
"""
import copy
from typing import Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmdense.registry import TRANSFORMS
from mmdense.utils.fileio import sidecar_path
from .bad_samples import CorruptImageError, check_policy, record_bad_sample
from .decoding import checked_image_bytes
from .loading import DEFAULT_MAX_FILE_BYTES, _Refused, read_regular_file

EMPTY_POLICIES = ('raise', 'skip', 'keep')


def decode_mask(data: bytes, max_pixels: Optional[int] = None) -> np.ndarray:
    """Decode an encoded saliency mask to ``(H, W)`` integer ids.

    Raises:
        CorruptImageError: empty, truncated, undecodable, or not a
            single-channel integer map (a colour image whose channels
            differ).
    """
    _, data = checked_image_bytes(data, max_pixels)
    mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.size == 0:
        raise CorruptImageError('cannot be decoded as an image')
    if mask.ndim == 3:
        if mask.shape[2] == 4 or not all(np.array_equal(mask[..., 0], mask[..., c])
                                         for c in range(1, mask.shape[2])):
            raise CorruptImageError(f'is a {mask.shape[2]}-channel colour image, not a '
                                    'single-channel id map (0 background, ids > 0 objects)')
        mask = mask[..., 0]
    if mask.dtype not in (np.uint8, np.uint16):
        raise CorruptImageError(f'has pixel type {mask.dtype}; expected 8- or 16-bit ids')
    return mask


@TRANSFORMS.register_module()
class LoadSaliencyMask(BaseTransform):
    """Load a precomputed saliency mask and cut it with the views.

    The mask of ``img_path`` is ``mask_dir/<path of the image relative to
    img_root, extension replaced by suffix>`` (``img_root`` None: the image's
    file name only), or ``results['saliency_path']`` when given. It is checked
    as images are (:class:`RobustLoadImageFromFile`): a missing file, a file
    that is not a single-channel 8/16-bit map, and a mask whose size differs
    from the image's are errors naming the file and the problem
    (``'raise'``), or logged skips recorded in ``bad_samples.json``
    (``'skip'``). A mask without any object follows ``empty``.

    Required keys: ``img`` (loaded), ``img_path``. Added keys: ``key``
    (``H x W`` uint8/uint16 ids), appended to ``seg_fields`` so that
    ``MultiViewRandomResizedCrop`` cuts it with every view.

    Args:
        mask_dir (str): folder of the masks.
        img_root (str, optional): the image root the mask tree mirrors.
        suffix (str): mask file extension. Defaults to '.png'.
        key (str): results key. Defaults to 'gt_saliency'.
        missing (str): 'raise' (default) or 'skip'.
        invalid (str): 'raise' (default) or 'skip' (unreadable mask, size
            mismatch).
        empty (str): 'skip' (default: nothing to contrast; logged and
            recorded), 'raise' or 'keep'.
        max_file_bytes (int, optional): larger files are refused.
    """

    def __init__(self,
                 mask_dir: str,
                 img_root: Optional[str] = None,
                 suffix: str = '.png',
                 key: str = 'gt_saliency',
                 missing: str = 'raise',
                 invalid: str = 'raise',
                 empty: str = 'skip',
                 max_file_bytes: Optional[int] = DEFAULT_MAX_FILE_BYTES) -> None:
        self.mask_dir = mask_dir
        self.img_root = img_root
        self.suffix = suffix
        self.key = key
        self.missing = check_policy('LoadSaliencyMask: missing', missing)
        self.invalid = check_policy('LoadSaliencyMask: invalid', invalid)
        self.empty = check_policy('LoadSaliencyMask: empty', empty, EMPTY_POLICIES)
        self.max_file_bytes = max_file_bytes

    def mask_path(self, results: dict) -> str:
        """Where the mask of this sample lives."""
        if results.get('saliency_path'):
            return results['saliency_path']
        return sidecar_path(results['img_path'], self.mask_dir, self.img_root, self.suffix)

    def _fail(self, path: str, img_path: str, reason: str, policy: str,
              error: type = CorruptImageError) -> None:
        if policy == 'skip':
            record_bad_sample(path, f'{reason} (image {img_path})', kind='saliency mask')
            return None
        raise error(f'saliency mask {path!r} (image {img_path!r}): {reason} '
                    "(set missing= / invalid= / empty='skip' to skip such samples in training)")

    def _read(self, path: str, img_path: str) -> Optional[np.ndarray]:
        """The mask, or None once a failure was handled (skipped)."""
        try:
            data = read_regular_file(path, self.max_file_bytes)
        except FileNotFoundError:
            return self._fail(path, img_path, 'file not found', self.missing, FileNotFoundError)
        except (_Refused, OSError) as err:
            return self._fail(path, img_path, str(err), self.invalid)
        try:
            return decode_mask(data)
        except CorruptImageError as err:
            return self._fail(path, img_path, str(err), self.invalid)

    def transform(self, results: dict) -> Optional[dict]:
        img_path = str(results.get('img_path'))
        path = self.mask_path(results)
        mask = self._read(path, img_path)
        if mask is None:
            return None
        height, width = results['img'].shape[:2]
        if mask.shape != (height, width):
            return self._fail(path, img_path, f'mask is {mask.shape[0]}x{mask.shape[1]} (h x w) '
                              f'but the image is {height}x{width}', self.invalid)
        if not mask.any() and self.empty != 'keep':
            return self._fail(path, img_path, 'no object (all pixels are 0)', self.empty)
        results[self.key] = mask
        fields = list(results.get('seg_fields') or [])
        results['seg_fields'] = fields + [self.key] if self.key not in fields else fields
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mask_dir={self.mask_dir!r}, img_root='
                f'{self.img_root!r}, suffix={self.suffix!r}, key={self.key!r}, missing='
                f'{self.missing!r}, invalid={self.invalid!r}, empty={self.empty!r})')


def object_fraction_in_crop(mask: np.ndarray, crop) -> float:
    """Fraction of the foreground (ids > 0) of ``mask`` inside ``crop``.

    Args:
        mask (np.ndarray): ``(H, W)`` ids of the original image.
        crop: ``(x1, y1, x2, y2)`` in original pixels.
    """
    total = np.count_nonzero(mask)
    if total == 0:
        return 0.
    x1, y1, x2, y2 = (int(v) for v in crop)
    return np.count_nonzero(mask[y1:y2, x1:x2]) / total


@TRANSFORMS.register_module()
class MaskAreaRule(BaseTransform):
    """Run a multi-view crop until every view keeps enough of the object.

    Wraps a ``MultiViewRandomResizedCrop`` (config ``crop``) and checks its
    views against the saliency mask ``mask_key`` (a ``seg_fields`` map):

    - ``rule='paper'``: each view's crop holds at least
      ``min_object_fraction`` (10 %) of the object's area (all ids > 0) in
      the original image;
    - ``rule='official'`` (released code): the foreground fraction of each
      view's mask lies strictly inside ``foreground_range`` (1 %, 99 %).

    The crop is drawn again up to ``max_tries`` times in all (released
    code: 2); then ``on_failure``: ``'skip'`` (default, the released code:
    another image; the transform returns None, mmengine's dataset draws
    another sample, and the image is logged and recorded in
    ``bad_samples.json``), ``'keep'`` (use the last views) or ``'raise'``
    (an error naming the image).

    Args:
        crop (dict): the ``MultiViewRandomResizedCrop`` config.
        rule (str): 'official' or 'paper'.
        mask_key (str): the saliency mask's key. Defaults to 'gt_saliency'.
        min_object_fraction (float): paper rule threshold (0.1).
        foreground_range (tuple): official rule bounds ((0.01, 0.99)).
        max_tries (int): crops drawn at most.
        on_failure (str): 'skip', 'keep' or 'raise'.
    """

    def __init__(self,
                 crop: dict,
                 rule: str = 'official',
                 mask_key: str = 'gt_saliency',
                 min_object_fraction: float = 0.1,
                 foreground_range: Tuple[float, float] = (0.01, 0.99),
                 max_tries: int = 2,
                 on_failure: str = 'skip') -> None:
        self.crop = TRANSFORMS.build(crop) if isinstance(crop, dict) else crop
        self.rule = check_policy('MaskAreaRule: rule', rule, ('official', 'paper'))
        self.on_failure = check_policy('MaskAreaRule: on_failure', on_failure, EMPTY_POLICIES)
        if not 0 <= min_object_fraction <= 1:
            raise ValueError(f'MaskAreaRule: min_object_fraction must be in [0, 1], '
                             f'got {min_object_fraction!r}')
        low, high = foreground_range
        if not 0 <= low < high <= 1:
            raise ValueError(f'MaskAreaRule: foreground_range must be 0 <= low < high <= 1, '
                             f'got {foreground_range!r}')
        if not isinstance(max_tries, int) or max_tries < 1:
            raise ValueError(f'MaskAreaRule: max_tries must be an int >= 1, got {max_tries!r}')
        self.mask_key = mask_key
        self.min_object_fraction = min_object_fraction
        self.foreground_range = (low, high)
        self.max_tries = max_tries

    def failing_view(self, mask: np.ndarray, views: dict) -> Optional[str]:
        """Why the views break the rule (the first failing view), or None."""
        for v, (crop, view_mask) in enumerate(zip(views['view_crops'], views[self.mask_key])):
            if self.rule == 'paper':
                frac = object_fraction_in_crop(mask, crop)
                if frac < self.min_object_fraction:
                    return (f'view {v} holds {frac:.1%} of the object '
                            f'(< {self.min_object_fraction:.0%})')
            else:
                frac = np.count_nonzero(view_mask) / max(view_mask.size, 1)
                low, high = self.foreground_range
                if not low < frac < high:
                    return (f'view {v} is {frac:.1%} foreground (outside '
                            f'({low:.0%}, {high:.0%}))')
        return None

    def transform(self, results: dict) -> Optional[dict]:
        if self.mask_key not in (results.get('seg_fields') or []):
            raise KeyError(f'MaskAreaRule: {self.mask_key!r} is not a seg_field; load the masks '
                           f'first (LoadSaliencyMask) (img_path={results.get("img_path")!r})')
        mask = results[self.mask_key]
        reason = None
        for _ in range(self.max_tries):
            views = self.crop(copy.copy(results))
            reason = self.failing_view(mask, views)
            if reason is None:
                return views
        img_path = str(results.get('img_path'))
        message = f'no views pass the {self.rule} area rule in {self.max_tries} tries: {reason}'
        if self.on_failure == 'keep':
            return views
        if self.on_failure == 'skip':
            record_bad_sample(img_path, message, kind='saliency mask')
            return None
        raise ValueError(f'MaskAreaRule: image {img_path!r}: {message}')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop={self.crop!r}, rule={self.rule!r}, '
                f'mask_key={self.mask_key!r}, min_object_fraction={self.min_object_fraction}, '
                f'foreground_range={self.foreground_range}, max_tries={self.max_tries}, '
                f'on_failure={self.on_failure!r})')
