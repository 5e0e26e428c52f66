# Copyright (c) mmdense contributors. All rights reserved.
"""The three unsupervised segmentation protocols.

All are scored by :func:`mmdense.evaluation.functional.unsup_seg.
match_and_score` on a dataset-wide (K x C) cluster/class confusion:

- :func:`prototype_eval`: the model's own per-pixel assignment (argmax over
  its prototypes, ``model.predict``); K = ``model.num_clusters``.
- :func:`kmeans_eval`: faiss k-means over the L2-normalised dense features of
  the whole dataset (CrOC Table 3, ViCE "C K", MaskContrast Table 3b/4),
  Hungarian matching when K == C, majority (many-to-one) matching when K > C
  (over-clustering); mean and std over several seeds.
- :func:`object_kmeans_eval`: MaskContrast's protocol. Given saliency masks,
  every salient object becomes one mean embedding; the embeddings are
  clustered into K - 1 clusters, non-salient pixels form the K-th
  (background) cluster, then Hungarian (K == C) or majority matching.
"""
import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..functional.kmeans import kmeans_assign, kmeans_fit
from ..functional.unsup_seg import cluster_confusion
from .features import DenseFeatureBank, check_dense_model, iter_batches
from .scoring import check_matching, k_list, score_run, seed_list, summarize, track

#: upper bound on the upsampled (B, K, H, W) scores of one assignment batch,
#: in values (2**26 float32 = 256 MiB); larger images are assigned fewer at once.
ASSIGN_MAX_SCORES = 1 << 26


# --------------------------------------------------------------------------
# (a) prototype argmax
# --------------------------------------------------------------------------
@torch.no_grad()
def prototype_eval(model: nn.Module,
                   dataloader,
                   num_classes: int,
                   num_clusters: Optional[int] = None,
                   matching: str = 'auto',
                   ignore_index: int = 255,
                   progress: bool = True) -> dict:
    """Score the model's own per-pixel assignment (``model.predict``).

    For SlotCon: prototype logits of the teacher, bilinearly upsampled to the
    label size, argmax (SlotCon A.3, Eq. 1); Hungarian matching when the
    number of prototypes equals ``num_classes`` (the paper's K = 27 model).

    Args:
        model (nn.Module): a ``BaseDenseSelfSupervisor`` with prototypes; its
            ``predict`` fills ``pred_sem_seg`` at the ground truth's size.
        dataloader: Batches with ``gt_sem_seg``.
        num_classes (int): C.
        num_clusters (int, optional): K; defaults to ``model.num_clusters``.
        matching (str): ``'auto'`` (Hungarian if K == C, else majority),
            ``'hungarian'`` or ``'majority'``.
        ignore_index (int): Ignored ground-truth id.
        progress (bool): Show a progress bar.

    Returns:
        dict: ``mIoU``, ``pAcc``, ``mAcc`` (+ ``_std`` = 0), ``matching``,
        ``num_clusters``, ``num_classes`` and ``runs`` (one run with the
        per-class ``IoU`` and the cluster->class ``mapping``).
    """
    check_dense_model(model, 'prototype evaluation')
    if num_clusters is None:
        num_clusters = model.num_clusters
        if num_clusters is None:
            raise ValueError(f'{type(model).__name__} has no prototypes (num_clusters is None): '
                             "evaluate its features with mode='kmeans'")
    check_matching(matching, num_clusters, num_classes)
    model.eval()
    confusion = np.zeros((num_clusters, num_classes), np.int64)
    for inputs, data_samples in iter_batches(model, dataloader, progress,
                                             f'predicting (prototype argmax, K={num_clusters})'):
        for out in model.predict(inputs, data_samples):
            pred = out.pred_sem_seg.data
            gt = out.gt_sem_seg.data
            if tuple(pred.shape) != tuple(gt.shape):
                raise ValueError(f'prediction {tuple(pred.shape)} and ground '
                                 f'truth {tuple(gt.shape)} sizes differ')
            confusion += cluster_confusion(pred, gt, num_clusters, num_classes, ignore_index)
    return summarize([score_run(confusion, matching)], num_clusters, num_classes, 'prototype')


# --------------------------------------------------------------------------
# (b, d) k-means over dense features, (over-)clustering
# --------------------------------------------------------------------------
@torch.no_grad()
def assign_dense_batch(features: torch.Tensor, centroids: torch.Tensor,
                       size: Tuple[int, int]) -> torch.Tensor:
    """Nearest-centroid maps of a batch of equal-size feature maps, at ``size``.

    Scores ``f . c_k - |c_k|^2 / 2`` (the L2 nearest centroid maximises them)
    are computed at feature resolution, for the whole batch in one matrix
    product, and bilinearly upsampled to ``size`` before the argmax (on the
    features' device). Bilinear interpolation is linear, so this equals
    assigning every pixel of the bilinearly upsampled feature map to its
    nearest centroid, at a cost of O(K h w + K H W) instead of O(K D H W).

    Args:
        features (Tensor): (B, D, h, w).
        centroids (Tensor): (K, D), on the features' device.
        size (tuple): output (H, W).

    Returns:
        Tensor: (B, H, W) int64 cluster ids.
    """
    scores = torch.einsum('kd,bdhw->bkhw', centroids, features)
    scores -= 0.5 * (centroids * centroids).sum(1)[None, :, None, None]
    if tuple(scores.shape[-2:]) != tuple(size):
        scores = F.interpolate(scores, size=tuple(size), mode='bilinear', align_corners=False)
    return scores.argmax(1)


def assign_dense(feature: torch.Tensor, centroids: torch.Tensor,
                 size: Tuple[int, int]) -> torch.Tensor:
    """:func:`assign_dense_batch` of one (D, h, w) feature map: (H, W) ids."""
    return assign_dense_batch(feature[None], centroids, size)[0]


def assignment_batches(bank: DenseFeatureBank, num_clusters: int,
                       batch_size: int = 64) -> Iterator[Tuple[int, int]]:
    """``(start, end)`` of runs of consecutive images of ``bank`` with one
    feature size and one label size, at most ``batch_size`` images and
    :data:`ASSIGN_MAX_SCORES` upsampled scores each."""
    start, num = 0, len(bank)
    while start < num:
        fshape = tuple(bank.features[start].shape)
        lshape = tuple(np.shape(bank.labels[start]))
        per_image = num_clusters * int(np.prod(lshape))
        limit = max(1, min(int(batch_size), ASSIGN_MAX_SCORES // max(per_image, 1)))
        end = start + 1
        while (end < num and end - start < limit and tuple(bank.features[end].shape) == fshape
               and tuple(np.shape(bank.labels[end])) == lshape):
            end += 1
        yield start, end
        start = end


@torch.no_grad()
def dense_confusion(bank: DenseFeatureBank,
                    centroids: torch.Tensor,
                    num_classes: int,
                    ignore_index: int = 255,
                    batch_size: int = 64,
                    progress: bool = False,
                    label: Optional[str] = None) -> np.ndarray:
    """(K, C) confusion of the nearest-centroid assignment of every pixel of
    ``bank`` (at the label size), batch by batch on ``centroids``' device."""
    num_clusters = int(centroids.shape[0])
    device = centroids.device
    confusion = np.zeros((num_clusters, num_classes), np.int64)
    bar = None
    if progress:
        from .scoring import progress_bar
        bar = progress_bar(len(bank), label or f'assigning (K={num_clusters})')
    for start, end in assignment_batches(bank, num_clusters, batch_size):
        feats = torch.stack(bank.features[start:end]).to(device, torch.float32)
        gts = torch.from_numpy(np.stack(bank.labels[start:end]).astype(np.int64)).to(device)
        pred = assign_dense_batch(feats, centroids, gts.shape[-2:])
        confusion += cluster_confusion(pred, gts, num_clusters, num_classes, ignore_index)
        if bar is not None:
            bar.update(end - start)
    if bar is not None:
        bar.file.write('\n')
    return confusion


def kmeans_eval(bank: DenseFeatureBank,
                num_classes: int,
                num_clusters: Union[int, Sequence[int]] = (),
                seeds: Union[int, Sequence[int]] = 5,
                niter: int = 30,
                max_fit_samples: Optional[int] = 1_000_000,
                matching: str = 'auto',
                ignore_index: int = 255,
                progress: bool = True,
                device: Optional[str] = None,
                batch_size: int = 64) -> List[dict]:
    """k-means over the dense features of a whole dataset, then matching.

    For every K and seed: fit faiss k-means on (a seeded subsample of) all
    feature vectors, assign every pixel (:func:`assign_dense_batch`, at the
    label size, ``batch_size`` images at a time), accumulate the (K, C)
    confusion, match and score.

    Args:
        bank (DenseFeatureBank): From :func:`collect_dense_features`
            (L2-normalised features).
        num_classes (int): C.
        num_clusters (int | Sequence[int]): K values; ``()`` means [C].
        seeds (int | Sequence[int]): Number of seeds (0..n-1) or the seeds.
        niter (int): k-means iterations. Defaults to 30.
        max_fit_samples (int, optional): Fit on at most this many feature
            vectors (all are assigned). Defaults to 1,000,000.
        matching (str): ``'auto'``: Hungarian if K == C else majority.
        ignore_index (int): Ignored ground-truth id.
        progress (bool): Show a progress bar per (K, seed) assignment pass.
        device (str, optional): Where the pixels are assigned and counted;
            defaults to 'cuda' when available, else 'cpu'.
        batch_size (int): Images assigned per matrix product (fewer for
            large K x H x W, see :data:`ASSIGN_MAX_SCORES`). Defaults to 64.

    Returns:
        list[dict]: One summary per K (see :func:`prototype_eval`), with
        mean and population std over the seeds.
    """
    ks = k_list(num_clusters, num_classes)
    seeds = seed_list(seeds)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    flat = bank.flat_features().numpy()
    summaries = []
    for k in ks:
        check_matching(matching, k, num_classes)
        runs = []
        for seed in seeds:
            centroids = torch.from_numpy(
                kmeans_fit(flat, k, seed=seed, niter=niter,
                           max_fit_samples=max_fit_samples)).to(device)
            confusion = dense_confusion(bank, centroids, num_classes, ignore_index,
                                        batch_size, progress, f'assigning (K={k}, seed {seed})')
            runs.append(score_run(confusion, matching, seed))
        summaries.append(summarize(runs, k, num_classes, 'kmeans'))
    return summaries


# --------------------------------------------------------------------------
# (c) k-means over mean object embeddings (MaskContrast)
# --------------------------------------------------------------------------
def _object_ids(saliency: np.ndarray) -> np.ndarray:
    """Sorted object ids (> 0) of a saliency map (bool -> {1})."""
    saliency = np.asarray(saliency)
    if saliency.dtype == bool:
        saliency = saliency.astype(np.int64)
    ids = np.unique(saliency)
    return ids[ids > 0]


@torch.no_grad()
def object_embeddings(feature: torch.Tensor,
                      saliency: np.ndarray) -> Tuple[torch.Tensor, np.ndarray]:
    """Mean embedding of every salient object of one image.

    The feature map is bilinearly upsampled to the saliency map's size and
    averaged over each object's pixels.

    Args:
        feature (Tensor): (D, h, w).
        saliency (np.ndarray): (H, W) ints, 0 = background, each value > 0
            one object (a bool mask is one object).

    Returns:
        tuple: ``(M, D)`` embeddings (not normalised) and the (M,) object ids.
    """
    saliency = np.asarray(saliency).astype(np.int64)
    ids = _object_ids(saliency)
    if ids.size == 0:
        return feature.new_zeros(0, feature.shape[0]), ids
    size = saliency.shape
    if tuple(feature.shape[-2:]) != tuple(size):
        feature = F.interpolate(feature[None].float(), size=size,
                                mode='bilinear', align_corners=False)[0]
    flat = feature.flatten(1)  # (D, HW)
    sal = torch.from_numpy(saliency.reshape(-1))
    onehot = (sal[None] == torch.from_numpy(ids)[:, None]).to(flat.dtype)
    sums = onehot @ flat.t()  # (M, D)
    return sums / onehot.sum(1, keepdim=True), ids


def pca_project(x: np.ndarray, dim: Optional[int] = None, whiten: bool = False) -> np.ndarray:
    """Centre ``x`` (N, D) and project it on its first ``dim`` principal
    axes (all if None); ``whiten`` scales every axis to unit variance."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(0, keepdims=True)
    _, sing, vt = np.linalg.svd(x - mean, full_matrices=False)
    dim = vt.shape[0] if dim is None else min(int(dim), vt.shape[0])
    proj = (x - mean) @ vt[:dim].T
    if whiten:
        std = sing[:dim] / math.sqrt(max(x.shape[0] - 1, 1))
        proj = proj / np.maximum(std, 1e-12)
    return proj.astype(np.float32)


def object_kmeans_eval(features: Sequence[torch.Tensor],
                       saliency: Sequence[np.ndarray],
                       labels: Sequence[np.ndarray],
                       num_classes: int,
                       num_clusters: Union[int, Sequence[int]] = (),
                       seeds: Union[int, Sequence[int]] = 5,
                       niter: int = 30,
                       pca_dim: Optional[int] = None,
                       whiten: bool = False,
                       normalize: bool = True,
                       matching: str = 'auto',
                       ignore_index: int = 255,
                       progress: bool = True) -> List[dict]:
    """MaskContrast's k-means evaluation over salient objects.

    Per image, the mean embedding of every salient object
    (:func:`object_embeddings`), L2-normalised; optionally PCA (``pca_dim``,
    ``whiten``); k-means into ``K - 1`` clusters; every pixel of an object
    gets its object's cluster + 1, non-salient pixels the background
    cluster 0; the (K, C) confusion is matched (Hungarian if K == C, else
    majority) and scored.

    Args:
        features (Sequence[Tensor]): per image, (D, h, w).
        saliency (Sequence[np.ndarray]): per image, (H, W) object ids
            (0 = background), at the labels' size.
        labels (Sequence[np.ndarray]): per image, (H, W) ground truth.
        num_classes (int): C, background included.
        num_clusters (int | Sequence[int]): K values (clusters including
            the background one); ``()`` means [C].
        seeds (int | Sequence[int]): Number of seeds or the seeds.
        niter (int): k-means iterations.
        pca_dim (int, optional): PCA dimension (MaskContrast: 32); None
            skips PCA unless ``whiten``.
        whiten (bool): Whiten the PCA projection (MaskContrast: True).
        normalize (bool): L2-normalise the object embeddings first.
        matching (str): ``'auto'``, ``'hungarian'`` or ``'majority'``.
        ignore_index (int): Ignored ground-truth id.
        progress (bool): Progress bars over the images.

    Returns:
        list[dict]: One summary per K (see :func:`prototype_eval`), plus
        ``num_objects``.
    """
    if not (len(features) == len(saliency) == len(labels)):
        raise ValueError('features, saliency and labels need one entry per '
                         f'image, got {len(features)}, {len(saliency)}, '
                         f'{len(labels)}')
    embeds, owners = [], []
    for idx in track(range(len(features)), progress, 'pooling object embeddings'):
        feat, sal, gt = features[idx], saliency[idx], labels[idx]
        if np.shape(sal) != np.shape(gt):
            raise ValueError(f'image {idx}: saliency {np.shape(sal)} and '
                             f'labels {np.shape(gt)} differ in size')
        emb, ids = object_embeddings(feat, sal)
        embeds.append(emb.float())
        owners.extend((idx, int(i)) for i in ids)
    emb = torch.cat(embeds).numpy() if embeds else np.zeros((0, 1))
    if normalize and len(emb):
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    if pca_dim is not None or whiten:
        emb = pca_project(emb, pca_dim, whiten)

    summaries = []
    for k in k_list(num_clusters, num_classes):
        if k < 2:
            raise ValueError(f'num_clusters must be >= 2 (one background '
                             f'cluster + objects), got {k}')
        check_matching(matching, k, num_classes)
        if len(emb) < k - 1:
            raise ValueError(f'{len(emb)} salient objects cannot form '
                             f'{k - 1} object clusters')
        runs = []
        for seed in seed_list(seeds):
            centroids = kmeans_fit(emb, k - 1, seed=seed, niter=niter)
            cluster = kmeans_assign(emb, centroids) + 1  # 0 = background
            lookup: Dict[int, Dict[int, int]] = {}
            for (img, obj), c in zip(owners, cluster):
                lookup.setdefault(img, {})[obj] = int(c)
            confusion = np.zeros((k, num_classes), np.int64)
            for idx in track(range(len(saliency)), progress,
                             f'assigning objects (K={k}, seed {seed})'):
                sal = np.asarray(saliency[idx]).astype(np.int64)
                gt = labels[idx]
                lut = np.zeros(int(sal.max(initial=0)) + 1, np.int64)
                for obj, c in lookup.get(idx, {}).items():
                    lut[obj] = c  # background (0) stays cluster 0
                pred = lut[np.maximum(sal, 0)]
                confusion += cluster_confusion(pred, np.asarray(gt), k, num_classes, ignore_index)
            runs.append(score_run(confusion, matching, seed))
        summary = summarize(runs, k, num_classes, 'object-kmeans')
        summary['num_objects'] = int(len(emb))
        summaries.append(summary)
    return summaries
