# Copyright (c) mmdense contributors. All rights reserved.
"""k-means over the dense features of the whole test set, as an mmengine
metric (the test loop of ``tools/test.py`` / ``tools/demo.py`` for methods
without prototypes, e.g. CrOC)."""
from typing import Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric

from mmdense.registry import METRICS
from ..dense.features import DenseFeatureBank
from ..dense.protocols import kmeans_eval


@METRICS.register_module()
class DenseKMeansMetric(BaseMetric):
    """:func:`~mmdense.evaluation.dense.kmeans_eval` on ``predict``'s features.

    Reads what ``BaseDenseSelfSupervisor.predict`` gives a method without
    prototypes: ``dense_feats`` ``(D, h, w)`` per image; L2-normalises them,
    fits faiss k-means on all of them, assigns every pixel (features upsampled
    bilinearly to the label size), then Hungarian (K == C) or majority
    matching; mean over seeds.

    Args:
        num_classes (int): C.
        num_clusters (int | Sequence[int]): K value(s); ``()`` means C.
        seeds (int | Sequence[int]): k-means seeds (number or list; 5).
        niter (int): k-means iterations (30).
        matching (str): 'auto', 'hungarian' or 'majority'.
        ignore_index (int): ignored ground-truth id.
        prefix (str, optional): metric name prefix ('kmeans').
    """
    default_prefix: Optional[str] = 'kmeans'

    def __init__(self,
                 num_classes: int,
                 num_clusters: Union[int, Sequence[int]] = (),
                 seeds: Union[int, Sequence[int]] = 5,
                 niter: int = 30,
                 matching: str = 'auto',
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f'DenseKMeansMetric: num_classes must be an int >= 2, '
                             f'got {num_classes!r}')
        self.num_classes = num_classes
        self.num_clusters = num_clusters
        self.seeds = seeds
        self.niter = niter
        self.matching = matching
        self.ignore_index = ignore_index

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each image's normalised features and labels (D x h x w)."""
        for sample in data_samples:
            if 'dense_feats' not in sample:
                raise KeyError('DenseKMeansMetric needs dense_feats from the model\'s predict '
                               '(a BaseDenseSelfSupervisor without prototypes)')
            feats = sample['dense_feats'].float().cpu()
            feats = feats / feats.norm(dim=0, keepdim=True).clamp_min(1e-12)
            self.results.append((feats, sample['gt_sem_seg']['data'][0].cpu().numpy()))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        feats, labels = zip(*results)
        bank = DenseFeatureBank(features=list(feats), labels=list(labels))
        summaries = kmeans_eval(bank, self.num_classes, self.num_clusters, self.seeds,
                                self.niter, matching=self.matching,
                                ignore_index=self.ignore_index, progress=False, device='cpu')
        metrics = {}
        for i, summary in enumerate(summaries):
            tag = '' if i == 0 else f'K{summary["num_clusters"]}_'
            metrics[f'{tag}mIoU'] = summary['mIoU']
            metrics[f'{tag}pAcc'] = summary['pAcc']
        return metrics
