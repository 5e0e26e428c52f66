# Copyright (c) mmdense contributors. All rights reserved.
"""MaskContrast's k-means over salient objects, as an mmengine metric (the
test loop of ``tools/test.py`` / ``tools/demo.py``)."""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric

from mmdense.registry import METRICS
from ..dense.protocols import object_kmeans_eval
from ..dense.saliency import objects_from_probability


@METRICS.register_module()
class ObjectKMeansMetric(BaseMetric):
    """k-means on mean object embeddings, background from a saliency source.

    Reads what ``BaseDenseSelfSupervisor.predict`` gives a method without
    prototypes: ``dense_feats`` ``(D, h, w)`` and, with ``saliency='model'``,
    ``pred_saliency`` (the model's saliency head, thresholded); or the
    object map stored under ``saliency`` in the sample's meta information
    (e.g. ``gt_saliency``, the planted objects of the synthetic scenes; put
    the key in ``PackSegInputs``' ``meta_keys``). Then
    :func:`~mmdense.evaluation.dense.object_kmeans_eval` (PCA, whitening,
    k-means into K - 1 clusters + background, matching, mean over seeds).

    Args:
        num_classes (int): C after ``background_classes`` are merged into 0.
        background_classes (Sequence[int], optional): ground-truth ids that
            form the background class 0 (e.g. the stuff classes of the
            synthetic scenes); the other ids keep their order as 1, 2, ...
            None: the labels are used as they are (VOC: 0 = background).
        saliency (str): 'model' or a meta key. Defaults to 'model'.
        threshold (float): saliency probability threshold (0.5).
        split_components (bool): each connected salient component of the
            model's saliency is its own object (default: one per image).
        num_clusters (int | Sequence[int]): K value(s) (overclustering:
            e.g. (21, 50, 100, 200, 500)); ``()`` means C.
        seeds (int | Sequence[int]): k-means seeds (5).
        pca_dim (int, optional): PCA dimension (32); whiten (bool): True.
        ignore_index (int): ignored ground-truth id.
        prefix (str, optional): metric name prefix ('object_kmeans').
    """
    default_prefix: Optional[str] = 'object_kmeans'

    def __init__(self,
                 num_classes: int,
                 background_classes: Optional[Sequence[int]] = None,
                 saliency: str = 'model',
                 threshold: float = 0.5,
                 split_components: bool = False,
                 num_clusters: Union[int, Sequence[int]] = (),
                 seeds: Union[int, Sequence[int]] = 5,
                 pca_dim: Optional[int] = 32,
                 whiten: bool = True,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes
        self.background_classes = None if background_classes is None else list(background_classes)
        self.saliency = saliency
        self.threshold = threshold
        self.split_components = split_components
        self.num_clusters = num_clusters
        self.seeds = seeds
        self.pca_dim = pca_dim
        self.whiten = whiten
        self.ignore_index = ignore_index

    def _labels(self, gt: np.ndarray) -> np.ndarray:
        """``gt`` with ``background_classes`` merged into 0 and the other
        classes renumbered 1, 2, ... in their order (ignore kept)."""
        if self.background_classes is None:
            return gt
        gt = gt.astype(np.int64)
        background = np.array(sorted(self.background_classes), np.int64)
        out = 1 + gt - np.searchsorted(background, gt)  # other classes, in order
        out[np.isin(gt, background)] = 0
        out[gt == self.ignore_index] = self.ignore_index
        return out

    def _objects(self, sample: dict, size) -> np.ndarray:
        if self.saliency == 'model':
            if 'pred_saliency' not in sample:
                raise KeyError("ObjectKMeansMetric(saliency='model'): the model gave no "
                               'pred_saliency (it has no saliency head); use a meta key')
            prob = sample['pred_saliency']['data'][0].cpu().numpy()
            return objects_from_probability(prob, self.threshold, self.split_components)
        objects = sample.get(self.saliency)
        if objects is None:
            raise KeyError(f'ObjectKMeansMetric: no {self.saliency!r} in the data samples; add it '
                           "to PackSegInputs' meta_keys")
        return np.asarray(objects).astype(np.int64)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each image's features, objects and labels (small: D x h x w)."""
        for sample in data_samples:
            if 'dense_feats' not in sample:
                raise KeyError('ObjectKMeansMetric needs dense_feats from the model\'s predict '
                               '(a BaseDenseSelfSupervisor without prototypes)')
            gt = sample['gt_sem_seg']['data'][0].cpu().numpy()
            self.results.append((sample['dense_feats'].float().cpu(),
                                 self._objects(sample, gt.shape), self._labels(gt)))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        feats, objects, labels = zip(*results)
        summaries = object_kmeans_eval(list(feats), list(objects), list(labels), self.num_classes,
                                       self.num_clusters, self.seeds, pca_dim=self.pca_dim,
                                       whiten=self.whiten, ignore_index=self.ignore_index,
                                       progress=False)
        metrics = {}
        for i, summary in enumerate(summaries):
            tag = '' if i == 0 else f'K{summary["num_clusters"]}_'
            metrics[f'{tag}mIoU'] = summary['mIoU']
            metrics[f'{tag}pAcc'] = summary['pAcc']
        metrics['num_objects'] = summaries[0]['num_objects']
        return metrics
