# Copyright (c) mmdense contributors. All rights reserved.
"""mIoU / pixel accuracy of unsupervised (cluster-id) segmentation."""
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from mmdense.registry import METRICS
from ..functional.unsup_seg import (MATCHING_MODES, cluster_confusion,
                                    match_and_score)


def _get_seg_data(data_sample: Any, key: str) -> torch.Tensor:
    """Read ``data_sample[key]['data']`` from a dict or a ``SegDataSample``.

    Args:
        data_sample (dict | SegDataSample): One sample in mmseg's layout.
        key (str): ``'pred_sem_seg'`` or ``'gt_sem_seg'``.

    Returns:
        torch.Tensor: The (1, H, W) label map.
    """
    field = data_sample[key] if isinstance(data_sample, dict) \
        else getattr(data_sample, key)
    return field['data'] if isinstance(field, dict) else field.data


@METRICS.register_module()
class UnsupervisedSegMetric(BaseMetric):
    """mIoU and pixel accuracy of cluster predictions after matching.

    Every batch adds one (K, C) cluster/class confusion matrix to
    ``self.results``; the matrices (collected over all ranks) are summed and
    the clusters are mapped to classes once for the whole dataset, see
    :func:`mmdense.evaluation.functional.match_and_score`.

    Predictions must already have the ground truth's size: resizing is the
    model's job (e.g. in its ``predict``).

    Args:
        num_classes (int): Number of ground-truth classes ``C`` (>= 2).
        num_clusters (int, optional): Number of predicted clusters ``K``.
            Defaults to ``num_classes``.
        matching (str): ``'hungarian'`` (one-to-one, needs K >= C),
            ``'majority'`` (many-to-one) or ``'auto'`` (hungarian if
            K == C, else majority). Defaults to ``'auto'``.
        ignore_index (int): Ground-truth id to skip. Defaults to 255.
        class_names (Sequence[str], optional): Names for the per-class
            table. Defaults to ``dataset_meta['classes']`` when its length is
            ``num_classes``, else the class ids.
        collect_device (str): ``'cpu'`` or ``'gpu'``, where the results of
            all ranks are gathered. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to
            ``'unsup_seg'``.
    """
    default_prefix: Optional[str] = 'unsup_seg'

    def __init__(self,
                 num_classes: int,
                 num_clusters: Optional[int] = None,
                 matching: str = 'auto',
                 ignore_index: int = 255,
                 class_names: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(
            collect_device=collect_device, prefix=prefix, **kwargs)
        num_clusters = num_classes if num_clusters is None else num_clusters
        self._check_args(num_classes, num_clusters, matching, ignore_index,
                         class_names)
        self.num_classes = num_classes
        self.num_clusters = num_clusters
        self.matching = matching
        self.ignore_index = ignore_index
        self.class_names = list(class_names) if class_names else None

    @staticmethod
    def _check_args(num_classes: int, num_clusters: int, matching: str,
                    ignore_index: int,
                    class_names: Optional[Sequence[str]]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the bad argument."""
        for name, value in (('num_classes', num_classes),
                            ('num_clusters', num_clusters),
                            ('ignore_index', ignore_index)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f'`{name}` must be an int, got {value!r}')
        if num_classes < 2:
            raise ValueError(f'`num_classes` must be >= 2, got {num_classes}')
        if num_clusters < 1:
            raise ValueError(
                f'`num_clusters` must be >= 1, got {num_clusters}')
        if matching not in MATCHING_MODES:
            raise ValueError(f'`matching` must be one of {MATCHING_MODES}, '
                             f'got {matching!r}')
        if matching == 'hungarian' and num_clusters < num_classes:
            raise ValueError(
                f"`num_clusters` ({num_clusters}) must be >= `num_classes` "
                f"({num_classes}) for matching='hungarian'")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f'`class_names` has {len(class_names)} names, '
                             f'expected num_classes={num_classes}')

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Add the batch's (K, C) confusion matrix to ``self.results``.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Outputs of the model, each with
                ``pred_sem_seg.data`` (1, H, W) cluster ids and
                ``gt_sem_seg.data`` (1, H, W) class ids.
        """
        confusion = np.zeros((self.num_clusters, self.num_classes), np.int64)
        for data_sample in data_samples:
            pred = _get_seg_data(data_sample, 'pred_sem_seg')
            gt = _get_seg_data(data_sample, 'gt_sem_seg')
            if tuple(pred.shape) != tuple(gt.shape):
                raise ValueError(
                    f'pred_sem_seg has shape {tuple(pred.shape)} but '
                    f'gt_sem_seg has shape {tuple(gt.shape)}; the model must '
                    'resize its predictions to the ground-truth size')
            confusion += cluster_confusion(pred, gt, self.num_clusters,
                                           self.num_classes,
                                           self.ignore_index)
        self.results.append(confusion)

    def compute_metrics(self, results: List[np.ndarray]) -> Dict[str, float]:
        """Sum the confusions, match clusters to classes and score.

        Args:
            results (List[np.ndarray]): (K, C) confusion of every batch.

        Returns:
            Dict[str, float]: ``mIoU`` and ``pAcc`` in percent, rounded to
            two decimals.
        """
        confusion = np.zeros((self.num_clusters, self.num_classes), np.int64)
        for batch_confusion in results:
            confusion += batch_confusion
        scores = match_and_score(confusion, self.matching)
        print_log(self._format_table(scores), MMLogger.get_current_instance())
        return OrderedDict(
            mIoU=round(scores['mIoU'], 2), pAcc=round(scores['pAcc'], 2))

    def _names(self) -> List[str]:
        """Class names for the table."""
        if self.class_names is not None:
            return self.class_names
        classes = (self.dataset_meta or {}).get('classes')
        if classes is not None and len(classes) == self.num_classes:
            return [str(name) for name in classes]
        return [str(idx) for idx in range(self.num_classes)]

    def _format_table(self, scores: dict) -> str:
        """Per-class IoU / Acc table (prettytable if installed)."""
        header = ['Class', 'IoU', 'Acc']
        rows = [[name, f'{iou:.2f}', f'{acc:.2f}'] for name, iou, acc in zip(
            self._names(), scores['IoU'], scores['Acc'])]
        title = (f"per-class results ({scores['mode']} matching, "
                 f'{self.num_clusters} clusters -> {self.num_classes} '
                 'classes):')
        try:
            from prettytable import PrettyTable
        except ImportError:
            lines = ['\t'.join(row) for row in [header] + rows]
            return '\n'.join([title] + lines)
        table = PrettyTable(header)
        table.add_rows(rows)
        return f'{title}\n{table.get_string()}'
