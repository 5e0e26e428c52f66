# Copyright (c) mmdense contributors. All rights reserved.
"""Saliency providers for the object k-means protocol.

A provider is called as ``fn(data_sample, index, gt)`` and returns the
(H, W) object map of an image at the ground truth's (evaluated) size:
0 = background, every value > 0 one object (a bool mask is one object).
"""
import os.path as osp
from typing import Sequence

import numpy as np

# MODEL_SALIENCY / objects_from_probability live in .features (which uses them) and are
# re-exported here with the other providers
from .features import MODEL_SALIENCY, SaliencyFn, objects_from_probability  # noqa: F401


def saliency_from_classes(gt: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Oracle saliency from the ground truth, for sanity checks only.

    Pixels of ``classes`` are salient; every connected component of one
    class is one object (ids 1, 2, ...). This uses labels, so numbers
    obtained with it are an upper bound, not an unsupervised result.
    """
    import cv2
    gt = np.asarray(gt)
    out = np.zeros(gt.shape, np.int32)
    next_id = 1
    for cls in classes:
        mask = (gt == cls).astype(np.uint8)
        if not mask.any():
            continue
        num, comp = cv2.connectedComponents(mask, connectivity=8)
        for comp_id in range(1, num):
            out[comp == comp_id] = next_id
            next_id += 1
    return out


def oracle_saliency(classes: Sequence[int]) -> SaliencyFn:
    """A provider of :func:`saliency_from_classes` (an ORACLE: uses labels)."""
    classes = list(classes)

    def from_classes(data_sample, index: int, gt: np.ndarray) -> np.ndarray:
        return saliency_from_classes(gt, classes)

    return from_classes


def saliency_from_dir(directory: str, suffix: str = '.png') -> SaliencyFn:
    """A saliency provider reading ``directory/<image stem><suffix>``.

    The masks must be at the evaluated size (after the test pipeline's
    resize / crop): any non-zero value is an object id (MaskContrast's
    format: 0 background, object ids > 0).
    """

    def load(data_sample, index: int, gt: np.ndarray) -> np.ndarray:
        import cv2
        img_path = str(data_sample.metainfo.get('img_path', index))
        stem = osp.splitext(osp.basename(img_path))[0]
        path = osp.join(directory, stem + suffix)
        if not osp.isfile(path):
            raise FileNotFoundError(f'saliency mask not found: {path}')
        mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise ValueError(f'could not read saliency mask {path}')
        if mask.ndim == 3:
            mask = mask[..., 0]
        return mask.astype(np.int32)

    return load

