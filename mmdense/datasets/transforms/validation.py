# Copyright (c) mmdense contributors. All rights reserved.
"""Ground-truth label maps checked against their image and classes, with the
same raise / skip policy as images (:mod:`.bad_samples`)."""
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmdense.registry import TRANSFORMS
from .bad_samples import InvalidAnnotationError, check_policy, record_bad_sample


@TRANSFORMS.register_module()
class ValidateSegMap(BaseTransform):
    """Check a ground-truth label map against its image and classes.

    Put it after the transform that loads the map (``mmseg.LoadAnnotations``,
    or a dataset giving ``gt_seg_map`` directly) and before packing.

    Args:
        num_classes (int): valid ids are ``0 .. num_classes - 1``.
        ignore_index (int): id of unlabelled pixels. Defaults to 255.
        key (str): results key of the map. Defaults to ``'gt_seg_map'``.
        size_mismatch (str): when the map's ``(H, W)`` differs from the
            image's: ``'raise'`` (default), ``'resize'`` (nearest neighbour,
            recorded) or ``'skip'``.
        out_of_range (str): ids ``>= num_classes`` or ``< 0`` (other than
            ``ignore_index``): ``'raise'`` (default), ``'ignore'`` (set to
            ``ignore_index``, recorded) or ``'skip'``.
        empty (str): a map with no labelled pixel: ``'keep'`` (default; the
            metric ignores it), ``'raise'`` or ``'skip'``.

    ``'skip'`` returns None: mmengine's datasets re-draw another sample in
    training but raise in test mode, so evaluation pipelines use ``'raise'``,
    ``'resize'``, ``'ignore'`` or ``'keep'``.
    """

    def __init__(self,
                 num_classes: int,
                 ignore_index: int = 255,
                 key: str = 'gt_seg_map',
                 size_mismatch: str = 'raise',
                 out_of_range: str = 'raise',
                 empty: str = 'keep') -> None:
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f'ValidateSegMap: num_classes must be a positive int, '
                             f'got {num_classes!r}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.key = key
        self.size_mismatch = check_policy('ValidateSegMap: size_mismatch', size_mismatch,
                                           ('raise', 'resize', 'skip'))
        self.out_of_range = check_policy('ValidateSegMap: out_of_range', out_of_range,
                                          ('raise', 'ignore', 'skip'))
        self.empty = check_policy('ValidateSegMap: empty', empty, ('keep', 'raise', 'skip'))

    @staticmethod
    def _name(results: dict) -> str:
        for key in ('seg_map_path', 'img_path'):
            if results.get(key):
                return str(results[key])
        return f'sample {results.get("sample_idx", "?")}'

    def _handle(self, results: dict, policy: str, reason: str):
        name = self._name(results)
        if policy == 'raise':
            raise InvalidAnnotationError(f'label map of {name}: {reason}')
        record_bad_sample(name, reason, kind='label map')
        return None if policy == 'skip' else results

    def transform(self, results: dict) -> Optional[dict]:
        seg = results.get(self.key)
        if seg is None:
            raise KeyError(f'ValidateSegMap: no {self.key!r} in the results of '
                           f'{self._name(results)}; load the label map first')
        seg = np.asarray(seg)
        if seg.ndim == 3 and seg.shape[2] == 1:
            seg = seg[:, :, 0]
        if seg.ndim != 2:
            return self._handle(results, 'raise' if self.size_mismatch == 'resize' else
                                self.size_mismatch, f'expected an (H, W) map, got shape {seg.shape}')
        img = results.get('img')
        size = tuple(img.shape[:2]) if isinstance(img, np.ndarray) else results.get('img_shape')
        if size is not None and tuple(seg.shape) != tuple(size[:2]):
            reason = f'size {seg.shape[0]} x {seg.shape[1]} differs from the image\'s {size[0]} x {size[1]}'
            if self.size_mismatch == 'resize':
                self._handle(results, 'resize', reason + ' (resized, nearest)')
                seg = cv2.resize(seg, (int(size[1]), int(size[0])), interpolation=cv2.INTER_NEAREST)
            elif self._handle(results, self.size_mismatch, reason) is None:
                return None
        labelled = seg != self.ignore_index
        bad = labelled & ((seg < 0) | (seg >= self.num_classes))
        if bad.any():
            ids = np.unique(seg[bad])
            shown = ', '.join(str(int(v)) for v in ids[:8]) + (' ...' if len(ids) > 8 else '')
            reason = (f'{int(bad.sum())} pixels with ids outside 0..{self.num_classes - 1} '
                      f'(ignore_index={self.ignore_index}): {shown}')
            if self.out_of_range == 'ignore':
                self._handle(results, 'ignore', reason + ' (set to ignore_index)')
                seg = seg.copy()
                seg[bad] = self.ignore_index
                labelled = seg != self.ignore_index
            elif self._handle(results, self.out_of_range, reason) is None:
                return None
        if not labelled.any() and self.empty != 'keep':
            if self._handle(results, self.empty, 'no labelled pixel') is None:
                return None
        results[self.key] = seg
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, size_mismatch={self.size_mismatch!r}, '
                f'out_of_range={self.out_of_range!r}, empty={self.empty!r})')
