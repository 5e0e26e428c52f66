# Copyright (c) mmdense contributors. All rights reserved.
"""DAVIS region (J) and contour (F) accuracy, as the DAVIS 2017 toolkit.

Written after ``davis2017-evaluation`` (``davis2017/metrics.py``,
``davis2017/evaluation.py``, semi-supervised task):

- **J** (region similarity): IoU of the binary object mask and the
  prediction, outside void pixels; 1 when both are empty.
- **F** (contour accuracy): F-measure of boundary precision and recall. The
  1-pixel boundaries of both masks (``seg2bmap``) are matched within a
  tolerance of ``ceil(0.008 x image diagonal)`` pixels (dilation with a disk
  of that radius): precision = predicted boundary pixels within tolerance of
  the ground-truth boundary / predicted boundary pixels, recall the other way
  round, F = 2PR / (P + R); the toolkit's conventions for empty boundaries.
- Per sequence, every object id 1..N of the first frame's annotation is
  scored on every frame **except the first and the last** (the first is the
  given annotation); an object's J (F) is the mean over those frames; the
  benchmark's J-Mean / F-Mean are means over all objects of all sequences,
  J&F-Mean their average.

As in the toolkit, the 255 "void" value of an annotation counts as
background (its ``DAVIS._get_all_elements`` sets 255 to 0 when it reads an
annotation); :func:`db_eval_iou` and :func:`f_measure` take an explicit
``void_pixels`` mask for other uses.
"""
import math
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

#: DAVIS' boundary tolerance, a fraction of the image diagonal
BOUND_TH = 0.008


def _binary_pair(first: np.ndarray, second: np.ndarray, void_pixels: Optional[np.ndarray],
                 names: Tuple[str, str]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both masks as bool (H, W) of one size, and the valid (non-void) pixels."""
    first, second = np.asarray(first).astype(bool), np.asarray(second).astype(bool)
    if first.shape != second.shape:
        raise ValueError(f'{names[0]} {first.shape} and {names[1]} {second.shape} sizes differ')
    valid = np.ones_like(first) if void_pixels is None \
        else ~np.asarray(void_pixels).astype(bool)
    return first, second, valid


def db_eval_iou(annotation: np.ndarray, segmentation: np.ndarray,
                void_pixels: Optional[np.ndarray] = None) -> float:
    """J: IoU of two binary (H, W) masks, void pixels excluded; 1 if both empty."""
    annotation, segmentation, valid = _binary_pair(annotation, segmentation, void_pixels,
                                                   ('annotation', 'segmentation'))
    inter = np.sum(annotation & segmentation & valid)
    union = np.sum((annotation | segmentation) & valid)
    return 1.0 if union == 0 else float(inter) / float(union)


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """1-pixel-wide boundary map of a binary mask (D. Martin's ``seg2bmap``,
    as in the DAVIS toolkit: a pixel is a boundary pixel when it differs from
    its east, south or south-east neighbour; boundaries lie half a pixel
    towards the origin)."""
    seg = np.asarray(seg).astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def disk(radius: int) -> np.ndarray:
    """``skimage.morphology.disk``: (2r+1, 2r+1) uint8, x^2 + y^2 <= r^2."""
    radius = int(radius)
    grid = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(grid, grid)
    return (x * x + y * y <= radius * radius).astype(np.uint8)


def bound_pixels(shape: Sequence[int], bound_th: float = BOUND_TH) -> int:
    """Tolerance in pixels: ``bound_th`` itself if >= 1, else
    ``ceil(bound_th x diagonal)``."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2
    return cv2.dilate(mask.astype(np.uint8), disk(radius)) > 0


def f_measure(foreground_mask: np.ndarray, gt_mask: np.ndarray,
              void_pixels: Optional[np.ndarray] = None,
              bound_th: float = BOUND_TH) -> float:
    """F: boundary F-measure of a predicted binary mask against the ground truth."""
    foreground_mask, gt_mask, valid = _binary_pair(foreground_mask, gt_mask, void_pixels,
                                                   ('segmentation', 'annotation'))
    radius = bound_pixels(gt_mask.shape, bound_th)
    fg_boundary = seg2bmap(foreground_mask & valid)
    gt_boundary = seg2bmap(gt_mask & valid)
    fg_dil = _dilate(fg_boundary, radius)
    gt_dil = _dilate(gt_boundary, radius)
    n_fg, n_gt = int(fg_boundary.sum()), int(gt_boundary.sum())
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = float((fg_boundary & gt_dil).sum()) / n_fg
        recall = float((gt_boundary & fg_dil).sum()) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def db_eval_boundary(annotation: np.ndarray, segmentation: np.ndarray,
                     void_pixels: Optional[np.ndarray] = None,
                     bound_th: float = BOUND_TH) -> float:
    """F with the toolkit's argument order (annotation first)."""
    return f_measure(segmentation, annotation, void_pixels, bound_th)


def object_ids(first_annotation: np.ndarray, void_value: int = 255) -> List[int]:
    """Object ids of a sequence: 1..N, N the largest id of the first frame's
    annotation (the toolkit's ``num_objects``), the void value excluded."""
    ann = np.asarray(first_annotation)
    ann = ann[ann != void_value]
    n = int(ann.max()) if ann.size else 0
    return list(range(1, n + 1))


def evaluate_sequence(annotations: Sequence[np.ndarray],
                      predictions: Sequence[np.ndarray],
                      objects: Optional[Iterable[int]] = None,
                      skip_first_last: bool = True,
                      void_value: int = 255,
                      bound_th: float = BOUND_TH) -> Dict[str, object]:
    """J and F of every object of one sequence.

    Args:
        annotations (list[np.ndarray]): per frame, the (H, W) ground truth
            (0 background, 1..N objects, ``void_value`` counted as background).
        predictions (list[np.ndarray]): per frame, the (H, W) prediction.
        objects (iterable[int], optional): object ids; default
            :func:`object_ids` of the first annotation.
        skip_first_last (bool): score frames 1 .. T-2 only (DAVIS
            semi-supervised; with fewer than 3 frames every frame is scored).
        void_value (int): see the module docstring.
        bound_th (float): F tolerance (fraction of the diagonal, or pixels if >= 1).

    Returns:
        dict: ``J`` and ``F`` (``{object id: mean over frames}``),
        ``J_frames`` / ``F_frames`` (``{object id: per-frame list}``), and the
        sequence means ``J_mean``, ``F_mean``, ``JF_mean`` over its objects.
    """
    if len(annotations) != len(predictions):
        raise ValueError(f'{len(annotations)} annotations but {len(predictions)} predictions')
    if not len(annotations):
        raise ValueError('empty sequence')
    objects = object_ids(annotations[0], void_value) if objects is None else list(objects)
    frames = range(len(annotations))
    if skip_first_last and len(annotations) > 2:
        frames = range(1, len(annotations) - 1)
    j_frames = {o: [] for o in objects}
    f_frames = {o: [] for o in objects}
    for t in frames:
        gt = np.asarray(annotations[t])
        pred = np.asarray(predictions[t])
        if gt.shape != pred.shape:
            raise ValueError(f'frame {t}: prediction {pred.shape} and annotation '
                             f'{gt.shape} sizes differ')
        for o in objects:
            gt_o, pred_o = gt == o, pred == o
            j_frames[o].append(db_eval_iou(gt_o, pred_o))
            f_frames[o].append(f_measure(pred_o, gt_o, bound_th=bound_th))
    j = {o: float(np.mean(v)) for o, v in j_frames.items()}
    f = {o: float(np.mean(v)) for o, v in f_frames.items()}
    j_mean = float(np.mean(list(j.values()))) if j else float('nan')
    f_mean = float(np.mean(list(f.values()))) if f else float('nan')
    return dict(J=j, F=f, J_frames=j_frames, F_frames=f_frames, J_mean=j_mean,
                F_mean=f_mean, JF_mean=(j_mean + f_mean) / 2)


def summarize(results: Dict[str, dict]) -> Dict[str, float]:
    """Benchmark means over all objects of all sequences.

    Args:
        results (dict): ``{sequence: evaluate_sequence(...)}``.

    Returns:
        dict: ``J_mean``, ``F_mean``, ``JF_mean`` (fractions in [0, 1]) and
        ``num_objects``.
    """
    js = [v for res in results.values() for v in res['J'].values()]
    fs = [v for res in results.values() for v in res['F'].values()]
    if not js:
        raise ValueError('no object was evaluated')
    j_mean, f_mean = float(np.mean(js)), float(np.mean(fs))
    return dict(J_mean=j_mean, F_mean=f_mean, JF_mean=(j_mean + f_mean) / 2,
                num_objects=len(js))
