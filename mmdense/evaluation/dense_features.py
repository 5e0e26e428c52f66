# Copyright (c) mmdense contributors. All rights reserved.
"""Unsupervised semantic segmentation of frozen dense features.

Three evaluation modes, all scored by
:func:`mmdense.evaluation.functional.unsup_seg.match_and_score` on a
dataset-wide (K x C) cluster/class confusion:

- ``prototype``: the model's own per-pixel assignment (SlotCon: argmax over
  the prototypes, ``model.predict``); K = number of prototypes.
- ``kmeans``: faiss k-means over the L2-normalised dense features of the
  whole dataset (CrOC Table 3, ViCE "C K", MaskContrast Table 3b/4),
  Hungarian matching when K == C, majority (many-to-one) matching when K > C
  (over-clustering); mean and std over several seeds.
- ``object-kmeans``: MaskContrast's protocol. Given saliency masks, every
  salient object becomes one mean embedding; the embeddings are clustered
  into K - 1 clusters, non-salient pixels form the K-th (background)
  cluster, then Hungarian (K == C) or majority matching.

Entry points: :func:`run_unsup_eval` (any mode, from a model and a
dataloader) and the functions it calls (:func:`dense_features`,
:func:`collect_dense_features`, :func:`prototype_eval`, :func:`kmeans_eval`,
:func:`object_kmeans_eval`), usable on their own with arrays.
``tools/analysis_tools/unsup_seg_eval.py`` is the command-line front end.

Which features (``feature_source``):

- ``'auto'`` (default): the dense neck output when the model has a neck whose
  output is a ``(B, D, h, w)`` map, else the backbone's last output. For
  SlotCon this is the projector output ``z`` of the network ``predict`` uses
  (the EMA teacher by default), i.e. what its prototypes score.
- ``'neck'``: the neck output (an error if it is not a dense map).
- ``'backbone'``: the backbone's last output (e.g. C5 of a ResNet).
"""
import math
import os.path as osp
from dataclasses import dataclass, field
from typing import (Callable, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .functional.kmeans import kmeans_assign, kmeans_fit
from .functional.unsup_seg import cluster_confusion, match_and_score

FEATURE_SOURCES = ('auto', 'neck', 'backbone')
EVAL_MODES = ('prototype', 'kmeans', 'object-kmeans')

# A saliency provider: (data_sample, dataset index, gt map) -> (H, W) ints,
# 0 = background, > 0 = object ids (bool masks are one object).
SaliencyFn = Callable[[object, int, np.ndarray], np.ndarray]


# --------------------------------------------------------------------------
# model adapters
# --------------------------------------------------------------------------
def dense_network(model: nn.Module) -> nn.Module:
    """The (sub-)network whose dense features are evaluated.

    SlotCon keeps an EMA teacher (``model.teacher.module``, with its own
    ``backbone``/``neck``/``grouping``) and predicts with it unless
    ``model.predict_with == 'student'``; the teacher is also the network
    kept for downstream use. Any other model is used as it is.
    """
    teacher = getattr(model, 'teacher', None)
    if teacher is not None and getattr(model, 'predict_with',
                                       'teacher') == 'teacher':
        net = getattr(teacher, 'module', teacher)
        if hasattr(net, 'backbone'):
            return net
    return model


def _last(outputs):
    """Last element of a tuple/list of outputs, or the output itself."""
    return outputs[-1] if isinstance(outputs, (tuple, list)) else outputs


@torch.no_grad()
def dense_features(model: nn.Module,
                   inputs: torch.Tensor,
                   source: str = 'auto') -> torch.Tensor:
    """Dense feature maps of a batch of (pre-processed) images.

    Args:
        model (nn.Module): A model with ``backbone`` (and optionally
            ``neck``), e.g. ``SlotCon``; see :func:`dense_network` for which
            sub-network is used.
        inputs (Tensor): (B, 3, H, W) normalised images.
        source (str): ``'auto'``, ``'neck'`` or ``'backbone'``, see the
            module docstring.

    Returns:
        Tensor: (B, D, h, w) features (not normalised).
    """
    if source not in FEATURE_SOURCES:
        raise ValueError(f'`source` must be one of {FEATURE_SOURCES}, got '
                         f'{source!r}')
    net = dense_network(model)
    if not hasattr(net, 'backbone'):
        raise AttributeError(
            f'{type(model).__name__} has no `backbone`: dense_features '
            'needs a model with backbone (and optional neck)')
    feats = net.backbone(inputs)
    neck = getattr(net, 'neck', None)
    if source != 'backbone' and neck is not None:
        out = _last(neck(feats))
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            return out
        if source == 'neck':
            raise ValueError(
                f'the neck of {type(model).__name__} does not return a dense '
                f'(B, D, h, w) map (got {getattr(out, "shape", type(out))}); '
                "use feature_source='backbone'")
    elif source == 'neck':
        raise ValueError(f'{type(model).__name__} has no neck; use '
                         "feature_source='backbone'")
    out = _last(feats)
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        raise ValueError('the backbone does not return a dense (B, D, h, w) '
                         f'map (got {getattr(out, "shape", type(out))})')
    return out


def num_prototypes(model: nn.Module) -> Optional[int]:
    """Number of prototypes of the model's grouping head, None if unknown."""
    grouping = getattr(dense_network(model), 'grouping', None)
    if grouping is None:
        grouping = getattr(model, 'grouping', None)
    if grouping is None:
        return None
    num = getattr(grouping, 'num_prototypes', None)
    if num is None and hasattr(grouping, 'prototypes'):
        num = grouping.prototypes.shape[0]
    return None if num is None else int(num)


def _stack_inputs(data: dict) -> dict:
    """Stack a pseudo-collated list of equal-size images into one tensor."""
    inputs = data.get('inputs')
    if isinstance(inputs, (list, tuple)) and inputs and all(
            isinstance(x, torch.Tensor) for x in inputs):
        shapes = {tuple(x.shape) for x in inputs}
        if len(shapes) != 1:
            raise ValueError('images of one batch have different sizes '
                             f'{sorted(shapes)}; resize/crop them in the '
                             'test pipeline or use batch_size=1')
        data = dict(data, inputs=torch.stack(list(inputs)))
    return data


def preprocess_batch(model: nn.Module, data: dict) -> dict:
    """Run the model's data pre-processor (test mode) on a collated batch
    (``default_collate`` or ``pseudo_collate`` of equal-size images)."""
    return model.data_preprocessor(_stack_inputs(data), False)


def iter_batches(model: nn.Module, dataloader: Iterator,
                 progress: bool = True) -> Iterator[Tuple[torch.Tensor, list]]:
    """``(inputs, data_samples)`` of every batch, after the model's data
    pre-processor (normalisation, BGR->RGB, device), with a progress bar."""
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        try:
            total = len(dataloader.dataset)
        except (AttributeError, TypeError):
            total = 0
        bar = ProgressBar(total)
    for data in dataloader:
        data = preprocess_batch(model, data)
        inputs, data_samples = data['inputs'], data['data_samples']
        yield inputs, data_samples
        if bar is not None:
            bar.update(inputs.shape[0])
    if bar is not None:
        bar.file.write('\n')


def _gt_map(data_sample) -> np.ndarray:
    """(H, W) ground truth of a ``SegDataSample`` as a small-int array."""
    gt = data_sample.gt_sem_seg.data
    gt = gt.squeeze(0).cpu().numpy() if isinstance(gt, torch.Tensor) \
        else np.asarray(gt).squeeze(0)
    if gt.size and gt.min() >= 0 and gt.max() <= 255:
        return gt.astype(np.uint8)
    return gt.astype(np.int32)


# --------------------------------------------------------------------------
# feature bank
# --------------------------------------------------------------------------
@dataclass
class DenseFeatureBank:
    """Dense features and labels of a whole dataset.

    Attributes:
        features (list[Tensor]): per image, (D, h, w) float32 on the CPU,
            L2-normalised over D when collected with ``normalize=True``.
        labels (list[np.ndarray]): per image, the (H, W) ground truth.
        saliency (list[np.ndarray], optional): per image, (H, W) object ids
            (0 = background), when a saliency provider was given.
        img_paths (list[str]): per image, its ``img_path`` (may be '').
    """
    features: List[torch.Tensor] = field(default_factory=list)
    labels: List[np.ndarray] = field(default_factory=list)
    saliency: Optional[List[np.ndarray]] = None
    img_paths: List[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.features)

    @property
    def dim(self) -> int:
        return int(self.features[0].shape[0])

    def flat_features(self) -> torch.Tensor:
        """All feature vectors as one (N, D) float32 tensor."""
        return torch.cat([f.flatten(1).t() for f in self.features])


@torch.no_grad()
def collect_dense_features(model: nn.Module,
                           dataloader,
                           source: str = 'auto',
                           normalize: bool = True,
                           saliency_fn: Optional[SaliencyFn] = None,
                           progress: bool = True) -> DenseFeatureBank:
    """Run ``model`` over ``dataloader`` and keep its dense features.

    Args:
        model (nn.Module): The model (put in eval mode here).
        dataloader: Yields mmseg-style batches (``inputs`` and
            ``data_samples`` with ``gt_sem_seg``), e.g. a config's
            ``test_dataloader``.
        source (str): Feature source, see :func:`dense_features`.
        normalize (bool): L2-normalise every feature vector. Defaults True.
        saliency_fn (callable, optional): ``fn(data_sample, index, gt)``
            returning the (H, W) saliency/object map of an image, at the
            ground truth's size.
        progress (bool): Show a progress bar.

    Returns:
        DenseFeatureBank: features (at feature resolution) and labels.
    """
    model.eval()
    bank = DenseFeatureBank(saliency=[] if saliency_fn is not None else None)
    for inputs, data_samples in iter_batches(model, dataloader, progress):
        feats = dense_features(model, inputs, source).float()
        if normalize:
            feats = F.normalize(feats, dim=1)
        feats = feats.cpu()
        for feat, data_sample in zip(feats, data_samples):
            gt = _gt_map(data_sample)
            if saliency_fn is not None:
                sal = np.asarray(saliency_fn(data_sample, len(bank), gt))
                if sal.shape != gt.shape:
                    raise ValueError(
                        f'saliency map of image {len(bank)} has shape '
                        f'{sal.shape}, the ground truth {gt.shape}: give '
                        'masks at the evaluated (post-pipeline) size')
                bank.saliency.append(sal)
            bank.features.append(feat.clone())
            bank.labels.append(gt)
            bank.img_paths.append(str(data_sample.metainfo.get('img_path',
                                                               '')))
    if not len(bank):
        raise ValueError('the dataloader yielded no images')
    return bank


# --------------------------------------------------------------------------
# scoring helpers
# --------------------------------------------------------------------------
def _k_list(num_clusters, default: int) -> List[int]:
    """K values: an int, a sequence, or None / empty for ``[default]``."""
    if num_clusters is None:
        return [int(default)]
    if isinstance(num_clusters, (int, np.integer)):
        return [int(num_clusters)]
    ks = [int(k) for k in num_clusters]
    return ks or [int(default)]


def _track(items, progress: bool):
    """``items``, through mmengine's progress bar when ``progress``."""
    if not progress:
        return items
    from mmengine.utils import track_iter_progress
    return track_iter_progress(list(items))


def _seed_list(seeds: Union[int, Sequence[int]]) -> List[int]:
    """``n`` -> [0, ..., n-1]; a sequence is used as given."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f'`seeds` must be >= 1, got {seeds}')
        return list(range(int(seeds)))
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError('`seeds` is empty')
    return seeds


def _summarize(runs: List[dict], num_clusters: int, num_classes: int,
               mode: str) -> dict:
    """Mean / population std of mIoU and pAcc over runs."""
    out = dict(num_clusters=num_clusters, num_classes=num_classes,
               matching=runs[0]['matching'], mode=mode, runs=runs)
    for key in ('mIoU', 'pAcc', 'mAcc'):
        values = np.array([run[key] for run in runs], dtype=float)
        out[key] = float(values.mean())
        out[f'{key}_std'] = float(values.std()) if len(values) > 1 else 0.0
    return out


def _score(confusion: np.ndarray, matching: str, seed=None) -> dict:
    scores = match_and_score(confusion, matching)
    return dict(
        seed=seed,
        mIoU=float(scores['mIoU']),
        pAcc=float(scores['pAcc']),
        mAcc=float(scores['mAcc']),
        matching=scores['mode'],
        IoU=[None if math.isnan(v) else float(v) for v in scores['IoU']],
        mapping=scores['mapping'].tolist())


def _check_matching(matching: str, num_clusters: int,
                    num_classes: int) -> None:
    if matching == 'hungarian' and num_clusters < num_classes:
        raise ValueError(f'hungarian matching needs num_clusters '
                         f'({num_clusters}) >= num_classes ({num_classes})')


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
    """Score the model's own per-pixel assignment (``predict``).

    For SlotCon: prototype logits of the teacher, bilinearly upsampled to the
    label size, argmax (SlotCon A.3, Eq. 1); Hungarian matching when the
    number of prototypes equals ``num_classes`` (the paper's K = 27 model).

    Args:
        model (nn.Module): Model whose ``forward(mode='predict')`` fills
            ``pred_sem_seg`` at the ground truth's size.
        dataloader: Batches with ``gt_sem_seg``.
        num_classes (int): C.
        num_clusters (int, optional): K; defaults to the model's number of
            prototypes.
        matching (str): ``'auto'`` (Hungarian if K == C, else majority),
            ``'hungarian'`` or ``'majority'``.
        ignore_index (int): Ignored ground-truth id.
        progress (bool): Show a progress bar.

    Returns:
        dict: ``mIoU``, ``pAcc``, ``mAcc`` (+ ``_std`` = 0), ``matching``,
        ``num_clusters``, ``num_classes`` and ``runs`` (one run with the
        per-class ``IoU`` and the cluster->class ``mapping``).
    """
    if num_clusters is None:
        num_clusters = num_prototypes(model)
        if num_clusters is None:
            raise ValueError('cannot tell the number of prototypes of '
                             f'{type(model).__name__}; pass num_clusters')
    _check_matching(matching, num_clusters, num_classes)
    model.eval()
    confusion = np.zeros((num_clusters, num_classes), np.int64)
    for inputs, data_samples in iter_batches(model, dataloader, progress):
        outputs = model(inputs, data_samples, mode='predict')
        for out in outputs:
            pred = out.pred_sem_seg.data
            gt = out.gt_sem_seg.data
            if tuple(pred.shape) != tuple(gt.shape):
                raise ValueError(f'prediction {tuple(pred.shape)} and ground '
                                 f'truth {tuple(gt.shape)} sizes differ')
            confusion += cluster_confusion(pred, gt, num_clusters,
                                           num_classes, ignore_index)
    return _summarize([_score(confusion, matching)], num_clusters,
                      num_classes, 'prototype')


# --------------------------------------------------------------------------
# (b, d) k-means over dense features, (over-)clustering
# --------------------------------------------------------------------------
@torch.no_grad()
def assign_dense(feature: torch.Tensor, centroids: torch.Tensor,
                 size: Tuple[int, int]) -> torch.Tensor:
    """Nearest-centroid map of one feature map, at ``size``.

    Scores ``f . c_k - |c_k|^2 / 2`` (the L2 nearest centroid maximises it)
    are computed at feature resolution and bilinearly upsampled to ``size``
    before the argmax. Bilinear interpolation is linear, so this equals
    assigning every pixel of the bilinearly upsampled feature map to its
    nearest centroid, at a cost of O(K h w + K H W) instead of O(K D H W).

    Args:
        feature (Tensor): (D, h, w).
        centroids (Tensor): (K, D).
        size (tuple): output (H, W).

    Returns:
        Tensor: (H, W) int64 cluster ids.
    """
    scores = torch.einsum('kd,dhw->khw', centroids, feature)
    scores -= 0.5 * (centroids * centroids).sum(1)[:, None, None]
    if tuple(scores.shape[-2:]) != tuple(size):
        scores = F.interpolate(scores[None], size=tuple(size),
                               mode='bilinear', align_corners=False)[0]
    return scores.argmax(0)


def kmeans_eval(bank: DenseFeatureBank,
                num_classes: int,
                num_clusters: Union[int, Sequence[int]] = (),
                seeds: Union[int, Sequence[int]] = 5,
                niter: int = 30,
                max_fit_samples: Optional[int] = 1_000_000,
                matching: str = 'auto',
                ignore_index: int = 255,
                progress: bool = True,
                device: Optional[str] = None) -> List[dict]:
    """k-means over the dense features of a whole dataset, then matching.

    For every K and seed: fit faiss k-means on (a seeded subsample of) all
    feature vectors, assign every pixel (:func:`assign_dense`, at the label
    size), accumulate the (K, C) confusion, match and score.

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

    Returns:
        list[dict]: One summary per K (see :func:`prototype_eval`), with
        mean and population std over the seeds.
    """
    ks = _k_list(num_clusters, num_classes)
    seed_list = _seed_list(seeds)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    flat = bank.flat_features().numpy()
    summaries = []
    for k in ks:
        _check_matching(matching, k, num_classes)
        runs = []
        for seed in seed_list:
            centroids = torch.from_numpy(
                kmeans_fit(flat, k, seed=seed, niter=niter,
                           max_fit_samples=max_fit_samples)).to(device)
            confusion = np.zeros((k, num_classes), np.int64)
            for idx in _track(range(len(bank)), progress):
                gt = bank.labels[idx]
                pred = assign_dense(bank.features[idx].to(device), centroids,
                                    gt.shape)
                confusion += cluster_confusion(
                    pred, torch.from_numpy(gt.astype(np.int64)).to(device), k,
                    num_classes, ignore_index)
            runs.append(_score(confusion, matching, seed))
        summaries.append(_summarize(runs, k, num_classes, 'kmeans'))
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
                      saliency: np.ndarray) -> Tuple[torch.Tensor,
                                                     np.ndarray]:
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


def pca_project(x: np.ndarray, dim: Optional[int] = None,
                whiten: bool = False) -> np.ndarray:
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
    for idx in _track(range(len(features)), progress):
        feat, sal, gt = features[idx], saliency[idx], labels[idx]
        if np.shape(sal) != np.shape(gt):
            raise ValueError(f'image {idx}: saliency {np.shape(sal)} and '
                             f'labels {np.shape(gt)} differ in size')
        emb, ids = object_embeddings(feat, sal)
        embeds.append(emb.float())
        owners.extend((idx, int(i)) for i in ids)
    emb = torch.cat(embeds).numpy() if embeds else np.zeros((0, 1))
    if normalize and len(emb):
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True),
                               1e-12)
    if pca_dim is not None or whiten:
        emb = pca_project(emb, pca_dim, whiten)

    ks = _k_list(num_clusters, num_classes)
    summaries = []
    for k in ks:
        if k < 2:
            raise ValueError(f'num_clusters must be >= 2 (one background '
                             f'cluster + objects), got {k}')
        _check_matching(matching, k, num_classes)
        if len(emb) < k - 1:
            raise ValueError(f'{len(emb)} salient objects cannot form '
                             f'{k - 1} object clusters')
        runs = []
        for seed in _seed_list(seeds):
            centroids = kmeans_fit(emb, k - 1, seed=seed, niter=niter)
            cluster = kmeans_assign(emb, centroids) + 1  # 0 = background
            lookup: Dict[int, Dict[int, int]] = {}
            for (img, obj), c in zip(owners, cluster):
                lookup.setdefault(img, {})[obj] = int(c)
            confusion = np.zeros((k, num_classes), np.int64)
            for idx in _track(range(len(saliency)), progress):
                sal = np.asarray(saliency[idx]).astype(np.int64)
                gt = labels[idx]
                lut = np.zeros(int(sal.max(initial=0)) + 1, np.int64)
                for obj, c in lookup.get(idx, {}).items():
                    lut[obj] = c  # background (0) stays cluster 0
                pred = lut[np.maximum(sal, 0)]
                confusion += cluster_confusion(pred, np.asarray(gt), k,
                                               num_classes, ignore_index)
            runs.append(_score(confusion, matching, seed))
        summary = _summarize(runs, k, num_classes, 'object-kmeans')
        summary['num_objects'] = int(len(emb))
        summaries.append(summary)
    return summaries


def saliency_from_classes(gt: np.ndarray,
                          classes: Sequence[int]) -> np.ndarray:
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


# --------------------------------------------------------------------------
# building from a config
# --------------------------------------------------------------------------
def build_model_from_config(cfg,
                            checkpoint: Optional[str] = None,
                            device: Optional[str] = None,
                            init_seed: int = 0) -> nn.Module:
    """Build ``cfg.model``, load ``checkpoint`` and put it in eval mode.

    Args:
        cfg (mmengine.Config): An mmdense config (``default_scope`` is used,
            'mmdense' if missing).
        checkpoint (str, optional): Checkpoint path (mmengine format); None
            keeps the initial weights (``init_weights`` is called).
        device (str, optional): Defaults to 'cuda' if available, else 'cpu'.
        init_seed (int): torch seed of the initial weights when there is no
            checkpoint (a reproducible random-init baseline). Defaults to 0.

    Returns:
        nn.Module: The model, on ``device``, in eval mode.
    """
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from mmdense.registry import MODELS
    from mmdense.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdense'))
    if checkpoint is None:
        torch.manual_seed(init_seed)
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        model.init_weights()
    else:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return model.to(device).eval()


def build_test_dataloader(cfg,
                          max_images: Optional[int] = None,
                          batch_size: Optional[int] = None,
                          num_workers: Optional[int] = None):
    """``cfg.test_dataloader`` without shuffling, optionally limited to the
    first ``max_images`` images (the dataset's ``indices``)."""
    import copy

    from mmengine.runner import Runner
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
    if max_images is not None:
        loader_cfg['dataset']['indices'] = int(max_images)
    if batch_size is not None:
        loader_cfg['batch_size'] = int(batch_size)
    if num_workers is not None:
        loader_cfg['num_workers'] = int(num_workers)
    if not loader_cfg.get('num_workers', 0):
        loader_cfg['persistent_workers'] = False
    return Runner.build_dataloader(loader_cfg)


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------
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
        model (nn.Module): The model (e.g. SlotCon), weights loaded.
        dataloader: Test batches with ``gt_sem_seg`` (mmseg layout).
        mode (str): ``'prototype'``, ``'kmeans'`` or ``'object-kmeans'``.
        num_classes (int, optional): C; defaults to the number of classes in
            ``dataloader.dataset.metainfo``.
        num_clusters (int | Sequence[int], optional): K value(s); defaults
            to the number of prototypes (prototype mode) or C.
        seeds (int | Sequence[int]): k-means seeds (number or list).
        niter (int): k-means iterations.
        max_fit_samples (int, optional): k-means fitting subsample cap.
        feature_source (str): ``'auto'``, ``'neck'`` or ``'backbone'``.
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
    if num_classes is None:
        classes = getattr(getattr(dataloader, 'dataset', None), 'metainfo',
                          {}).get('classes')
        if not classes:
            raise ValueError('pass num_classes: the dataset has no '
                             "metainfo['classes']")
        num_classes = len(classes)
    if mode == 'prototype':
        k = None
        if num_clusters is not None:
            ks = _k_list(num_clusters, -1)
            if len(ks) != 1:
                raise ValueError('prototype mode has one K (the number of '
                                 f'prototypes), got num_clusters={ks}')
            k = ks[0]
        return [
            prototype_eval(model, dataloader, num_classes, k, matching,
                           ignore_index, progress)
        ]
    if mode == 'object-kmeans' and saliency_fn is None:
        raise ValueError("mode 'object-kmeans' needs saliency masks "
                         '(saliency_fn)')
    bank = collect_dense_features(
        model, dataloader, source=feature_source, normalize=True,
        saliency_fn=saliency_fn if mode == 'object-kmeans' else None,
        progress=progress)
    ks = () if num_clusters is None else num_clusters
    if mode == 'kmeans':
        return kmeans_eval(bank, num_classes, ks, seeds, niter,
                           max_fit_samples, matching, ignore_index, progress)
    return object_kmeans_eval(bank.features, bank.saliency, bank.labels,
                              num_classes, ks, seeds, niter, pca_dim, whiten,
                              True, matching, ignore_index, progress)


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
