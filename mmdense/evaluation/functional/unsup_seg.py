# Copyright (c) mmdense contributors. All rights reserved.
"""Scoring of unsupervised semantic segmentation.

An unsupervised model assigns every pixel to one of ``K`` clusters whose ids
carry no meaning. To score it against ``C`` ground-truth classes, a
``K x C`` confusion matrix is accumulated over the whole dataset, each
cluster is mapped to a class, and the mapped prediction is scored with the
usual mIoU / pixel accuracy:

- ``hungarian``: one-to-one mapping maximising the matched pixels
  (the standard protocol when ``K == C``);
- ``majority``: many-to-one mapping of every cluster to its most frequent
  class (the standard protocol for over-clustering, ``K > C``).

Only numpy, torch and scipy are used here, so the functions can be called
outside of an mmengine runner.
"""
from typing import Dict, Union

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

ArrayLike = Union[np.ndarray, torch.Tensor]

MATCHING_MODES = ('hungarian', 'majority', 'auto')


def _check_integer(name: str, array: ArrayLike) -> None:
    """Raise ``TypeError`` if ``array`` does not hold integers."""
    if isinstance(array, torch.Tensor):
        is_int = not (array.is_floating_point() or array.is_complex())
    else:
        is_int = np.issubdtype(array.dtype, np.integer) or array.dtype == bool
    if not is_int:
        raise TypeError(f'`{name}` must hold integer ids, got dtype '
                        f'{array.dtype}')


def _flatten_int64(pred: ArrayLike, gt: ArrayLike) -> tuple:
    """Flatten both arrays to int64, as torch tensors on ``pred``'s device
    if either is a tensor, else as numpy arrays."""
    if isinstance(pred, torch.Tensor) or isinstance(gt, torch.Tensor):
        pred = torch.as_tensor(pred).reshape(-1).long()
        gt = torch.as_tensor(gt, device=pred.device).reshape(-1).long()
    else:
        pred = np.asarray(pred).reshape(-1).astype(np.int64)
        gt = np.asarray(gt).reshape(-1).astype(np.int64)
    return pred, gt


def cluster_confusion(pred: ArrayLike,
                      gt: ArrayLike,
                      num_clusters: int,
                      num_classes: int,
                      ignore_index: int = 255) -> np.ndarray:
    """Count how often each cluster co-occurs with each class.

    Pixels whose ground truth is ``ignore_index`` or outside
    ``[0, num_classes)`` are skipped; their predictions are not checked.

    Args:
        pred (np.ndarray | torch.Tensor): Predicted cluster ids of any shape,
            e.g. (H, W) or (N, H, W), values in ``[0, num_clusters)``.
        gt (np.ndarray | torch.Tensor): Ground-truth class ids with the same
            shape as ``pred``. Torch tensors are counted on their own device.
        num_clusters (int): Number of clusters ``K``.
        num_classes (int): Number of classes ``C``.
        ignore_index (int): Ground-truth id to skip. Defaults to 255.

    Returns:
        np.ndarray: (K, C) int64 matrix; entry ``[k, c]`` is the number of
        valid pixels predicted as cluster ``k`` whose ground truth is ``c``.

    Raises:
        ValueError: If the shapes differ or a valid pixel has a cluster id
            outside ``[0, num_clusters)``.
        TypeError: If ``pred`` or ``gt`` does not hold integers.
    """
    if not isinstance(pred, torch.Tensor):
        pred = np.asarray(pred)
    if not isinstance(gt, torch.Tensor):
        gt = np.asarray(gt)
    if tuple(pred.shape) != tuple(gt.shape):
        raise ValueError(f'`pred` and `gt` must have the same shape, got '
                         f'{tuple(pred.shape)} and {tuple(gt.shape)}')
    _check_integer('pred', pred)
    _check_integer('gt', gt)
    pred, gt = _flatten_int64(pred, gt)

    valid = (gt != ignore_index) & (gt >= 0) & (gt < num_classes)
    pred, gt = pred[valid], gt[valid]
    bad = (pred < 0) | (pred >= num_clusters)
    if bad.any():
        bad_value = int(pred[bad][0])
        raise ValueError(f'Predicted cluster id {bad_value} is outside '
                         f'[0, {num_clusters}) (num_clusters={num_clusters})')
    bincount = torch.bincount if isinstance(pred, torch.Tensor) \
        else np.bincount
    counts = bincount(pred * num_classes + gt,
                      minlength=num_clusters * num_classes)
    if isinstance(counts, torch.Tensor):
        counts = counts.cpu().numpy()
    return counts.astype(np.int64).reshape(num_clusters, num_classes)


def hungarian_match(confusion: np.ndarray) -> np.ndarray:
    """Map clusters to classes one-to-one, maximising the matched pixels.

    With ``K >= C`` every class receives exactly one cluster; the ``K - C``
    other clusters stay unmatched. With ``K < C`` every cluster is matched
    and ``C - K`` classes are never predicted.

    Args:
        confusion (np.ndarray): (K, C) cluster/class counts, see
            :func:`cluster_confusion`.

    Returns:
        np.ndarray: (K,) int64 class id of every cluster, -1 if unmatched.
    """
    confusion = np.asarray(confusion)
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    mapping = np.full(confusion.shape[0], -1, dtype=np.int64)
    mapping[rows] = cols
    return mapping


def majority_match(confusion: np.ndarray) -> np.ndarray:
    """Map every cluster to its most frequent class (many-to-one).

    Args:
        confusion (np.ndarray): (K, C) cluster/class counts, see
            :func:`cluster_confusion`.

    Returns:
        np.ndarray: (K,) int64 class id of every cluster, -1 for clusters
        without any valid pixel.
    """
    confusion = np.asarray(confusion)
    mapping = confusion.argmax(axis=1).astype(np.int64)
    mapping[confusion.sum(axis=1) == 0] = -1
    return mapping


def _resolve_mode(mode: str, num_clusters: int, num_classes: int) -> str:
    """Turn ``'auto'`` into ``'hungarian'`` (K == C) or ``'majority'``."""
    if mode not in MATCHING_MODES:
        raise ValueError(f'`mode` must be one of {MATCHING_MODES}, got '
                         f'{mode!r}')
    if mode == 'auto':
        return 'hungarian' if num_clusters == num_classes else 'majority'
    return mode


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Element-wise ``num / den`` in percent, nan where ``den == 0``."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out * 100


def _nanmean(values: np.ndarray) -> float:
    """Mean of the non-nan entries, nan if there are none."""
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float('nan')


def match_and_score(confusion: np.ndarray,
                    mode: str = 'auto') -> Dict[str, Union[float,
                                                            np.ndarray, str]]:
    """Map clusters to classes and score the mapped segmentation.

    Follows mmseg's ``IoUMetric``: a class's IoU is nan when it has neither
    ground-truth pixels nor predictions, and nan classes are left out of
    the mIoU. Pixels of unmatched clusters count as wrong.

    Args:
        confusion (np.ndarray): (K, C) cluster/class counts, see
            :func:`cluster_confusion`.
        mode (str): ``'hungarian'``, ``'majority'`` or ``'auto'``
            (hungarian if K == C, else majority). Defaults to ``'auto'``.

    Returns:
        dict: With keys

        - ``mIoU`` (float): mean IoU over non-nan classes, percent.
        - ``pAcc`` (float): correctly mapped / all valid pixels, percent.
        - ``mAcc`` (float): mean per-class accuracy over non-nan classes.
        - ``IoU`` (np.ndarray): (C,) per-class IoU, percent.
        - ``Acc`` (np.ndarray): (C,) per-class accuracy (recall), percent.
        - ``mapping`` (np.ndarray): (K,) class id per cluster, -1 unmatched.
        - ``mode`` (str): the matching actually used.
    """
    confusion = np.asarray(confusion, dtype=np.int64)
    if confusion.ndim != 2:
        raise ValueError(f'`confusion` must be a (K, C) matrix, got shape '
                         f'{confusion.shape}')
    num_clusters, num_classes = confusion.shape
    mode = _resolve_mode(mode, num_clusters, num_classes)
    mapping = hungarian_match(confusion) if mode == 'hungarian' \
        else majority_match(confusion)

    matched = mapping >= 0
    # (C, C) confusion of the mapped prediction: rows predicted, cols gt.
    mapped = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(mapped, mapping[matched], confusion[matched])
    intersect = np.diag(mapped)
    gt_area = confusion.sum(axis=0)
    pred_area = mapped.sum(axis=1)
    iou = _safe_ratio(intersect, gt_area + pred_area - intersect)
    acc = _safe_ratio(intersect, gt_area)
    return dict(
        mIoU=_nanmean(iou),
        pAcc=float(_safe_ratio(intersect.sum(), gt_area.sum())),
        mAcc=_nanmean(acc),
        IoU=iou,
        Acc=acc,
        mapping=mapping,
        mode=mode)

