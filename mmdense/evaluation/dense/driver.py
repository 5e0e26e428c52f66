# Copyright (c) mmdense contributors. All rights reserved.
"""One entry point for the three protocols, and a results table.

``tools/analysis_tools/unsup_seg_eval.py`` is the command-line front end.
"""
from typing import List, Optional, Sequence, Union

import torch.nn as nn

from .features import SaliencyFn, check_dense_model, check_stage, collect_dense_features
from .protocols import kmeans_eval, object_kmeans_eval, prototype_eval
from .scoring import k_list

EVAL_MODES = ('prototype', 'kmeans', 'object-kmeans')


def run_unsup_eval(model: nn.Module,
                   dataloader,
                   mode: str = 'kmeans',
                   num_classes: Optional[int] = None,
                   num_clusters: Union[None, int, Sequence[int]] = None,
                   seeds: Union[int, Sequence[int]] = 5,
                   niter: int = 30,
                   max_fit_samples: Optional[int] = 1_000_000,
                   feature_source: str = 'auto',
                   matching: str = 'auto',
                   saliency_fn: Optional[SaliencyFn] = None,
                   pca_dim: Optional[int] = None,
                   whiten: bool = False,
                   ignore_index: int = 255,
                   progress: bool = True) -> List[dict]:
    """Evaluate ``model`` on ``dataloader`` in one of :data:`EVAL_MODES`.

    Args:
        model (nn.Module): a ``BaseDenseSelfSupervisor`` (e.g. SlotCon),
            weights loaded.
        dataloader: Test batches with ``gt_sem_seg`` (mmseg layout).
        mode (str): ``'prototype'``, ``'kmeans'`` or ``'object-kmeans'``.
        num_classes (int, optional): C; defaults to the number of classes in
            ``dataloader.dataset.metainfo``.
        num_clusters (int | Sequence[int], optional): K value(s); defaults
            to ``model.num_clusters`` (prototype mode) or C.
        seeds (int | Sequence[int]): k-means seeds (number or list).
        niter (int): k-means iterations.
        max_fit_samples (int, optional): k-means fitting subsample cap.
        feature_source (str): one of ``model.dense_stages`` (``'auto'``,
            ``'neck'``, ``'backbone'`` ...), the ``stage`` of
            ``model.extract_dense``.
        matching (str): ``'auto'``, ``'hungarian'`` or ``'majority'``.
        saliency_fn (callable, optional): Saliency provider, required by
            ``'object-kmeans'`` (see :func:`saliency_from_dir`,
            :func:`saliency_from_classes`).
        pca_dim (int, optional), whiten (bool): ``'object-kmeans'`` PCA.
        ignore_index (int): Ignored ground-truth id.
        progress (bool): Progress bars.

    Returns:
        list[dict]: One summary per K: ``mode``, ``num_clusters``,
        ``num_classes``, ``matching``, ``mIoU``/``pAcc``/``mAcc`` (mean over
        seeds, percent) with ``_std``, and the per-seed ``runs``.
    """
    if mode not in EVAL_MODES:
        raise ValueError(f'`mode` must be one of {EVAL_MODES}, got {mode!r}')
    check_dense_model(model, f'{mode!r} evaluation')
    if num_classes is None:
        classes = getattr(getattr(dataloader, 'dataset', None), 'metainfo', {}).get('classes')
        if not classes:
            raise ValueError("pass num_classes: the dataset has no metainfo['classes']")
        num_classes = len(classes)
    if mode == 'prototype':
        k = None
        if num_clusters is not None:
            ks = k_list(num_clusters, -1)
            if len(ks) != 1:
                raise ValueError('prototype mode has one K (the number of '
                                 f'prototypes), got num_clusters={ks}')
            k = ks[0]
        return [prototype_eval(model, dataloader, num_classes, k, matching, ignore_index, progress)]
    check_stage(model, feature_source)
    if mode == 'object-kmeans' and saliency_fn is None:
        raise ValueError("mode 'object-kmeans' needs saliency masks (saliency_fn)")
    bank = collect_dense_features(
        model, dataloader, source=feature_source, normalize=True,
        saliency_fn=saliency_fn if mode == 'object-kmeans' else None,
        progress=progress)
    ks = () if num_clusters is None else num_clusters
    if mode == 'kmeans':
        return kmeans_eval(bank, num_classes, ks, seeds, niter, max_fit_samples, matching,
                           ignore_index, progress)
    return object_kmeans_eval(bank.features, bank.saliency, bank.labels, num_classes, ks, seeds,
                              niter, pca_dim, whiten, True, matching, ignore_index, progress)


def format_results(results: Sequence[dict]) -> str:
    """A plain-text table of :func:`run_unsup_eval`'s summaries."""
    lines = [f"{'mode':<14}{'K':>5}{'C':>5}  {'matching':<10}"
             f"{'seeds':>6}{'mIoU':>16}{'pAcc':>16}"]
    for res in results:
        n = len(res['runs'])

        def fmt(key):
            return (f"{res[key]:.2f} ± {res[key + '_std']:.2f}" if n > 1
                    else f'{res[key]:.2f}')

        lines.append(f"{res['mode']:<14}{res['num_clusters']:>5}"
                     f"{res['num_classes']:>5}  {res['matching']:<10}"
                     f'{n:>6}{fmt("mIoU"):>16}{fmt("pAcc"):>16}')
    return '\n'.join(lines)
