# Copyright (c) mmdense contributors. All rights reserved.
"""Stage ``eval``: the k-means protocol against a direct faiss + numpy path."""
import copy
import math
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .common import EVAL_CONVENTION, EVAL_IMG_SIZE, EVAL_NUM_IMAGES, TARGETS, Log, _ratios
from .timing import MemoryProbe, _autocast


# --------------------------------------------------------------------------
# stage: eval
# --------------------------------------------------------------------------
class GeneratedSegLoader:
    """Batches of generated images with label maps, in mmseg's layout.

    Image ``i`` is seeded by ``i`` (uint8 noise over a few smooth blobs);
    its label map is ``num_classes`` ids in square blocks. Generation time is
    accumulated in :attr:`gen_seconds` (subtracted from the extraction).
    """

    def __init__(self, num_images: int, img_size: int, num_classes: int,
                 batch_size: int = 16) -> None:
        self.num_images = int(num_images)
        self.img_size = int(img_size)
        self.num_classes = int(num_classes)
        self.batch_size = int(batch_size)
        self.gen_seconds = 0.
        self.dataset = self  # progress bars read len(loader.dataset)

    def __len__(self) -> int:
        return self.num_images

    def _sample(self, i: int):
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        gen = torch.Generator().manual_seed(i)
        s = self.img_size
        low = torch.rand(1, 3, 4, 4, generator=gen)
        img = F.interpolate(low, size=(s, s), mode='bilinear', align_corners=False)[0]
        img = (img * 200 + torch.rand(3, s, s, generator=gen) * 55).to(torch.uint8)
        block = max(1, s // 8)
        cells = torch.randint(0, self.num_classes, (1, math.ceil(s / block), math.ceil(s / block)),
                              generator=gen, dtype=torch.uint8)
        label = cells.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :s, :s]
        sample = SegDataSample(metainfo=dict(img_path='', ori_shape=(s, s), img_shape=(s, s)))
        sample.gt_sem_seg = PixelData(data=label.contiguous())
        return img, sample

    def __iter__(self):
        for start in range(0, self.num_images, self.batch_size):
            t0 = time.perf_counter()
            items = [self._sample(i) for i in range(start, min(start + self.batch_size,
                                                               self.num_images))]
            self.gen_seconds += time.perf_counter() - t0
            yield dict(inputs=[x for x, _ in items], data_samples=[s for _, s in items])


@contextmanager
def _timed_functions(module, names: Dict[str, str], totals: Dict[str, float]):
    """Temporarily wrap ``module.<name>`` functions to add their wall-clock
    time to ``totals[region]`` (timing the protocol without editing it)."""
    originals = {name: getattr(module, name) for name in names}

    def wrap(name, region):
        original = originals[name]

        def wrapped(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[region] = totals.get(region, 0.) + time.perf_counter() - start
        return wrapped

    for name, region in names.items():
        setattr(module, name, wrap(name, region))
    try:
        yield totals
    finally:
        for name, original in originals.items():
            setattr(module, name, original)


def reference_kmeans_eval(features: Sequence[torch.Tensor], labels: Sequence[np.ndarray],
                          num_clusters: int, num_classes: int, seed: int = 0, niter: int = 30,
                          max_fit_samples: Optional[int] = 1_000_000,
                          ignore_index: int = 255) -> Tuple[dict, Dict[str, float]]:
    """Direct faiss fit + per-pixel numpy assignment of ``features``.

    Returns:
        tuple: the scores (``mIoU``, ``pAcc``) and the seconds of each part
        (``gather``, ``fit``, ``assign``, ``score``).
    """
    import faiss

    from mmdense.evaluation.functional.unsup_seg import match_and_score
    times = OrderedDict()
    t0 = time.perf_counter()
    flat = np.ascontiguousarray(
        torch.cat([f.flatten(1).t() for f in features]).numpy(), dtype=np.float32)
    if max_fit_samples is not None and len(flat) > max_fit_samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(flat), int(max_fit_samples),
                                                          replace=False))
        flat = flat[keep]
    times['gather'] = time.perf_counter() - t0

    t0 = time.perf_counter()
    extra = {}
    if hasattr(faiss, 'ClusteringInitMethod_KMEANS_PLUS_PLUS') and hasattr(
            faiss.ClusteringParameters(), 'init_method'):
        extra['init_method'] = faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS
    kmeans = faiss.Kmeans(flat.shape[1], int(num_clusters), niter=int(niter), seed=int(seed),
                          max_points_per_centroid=max(256, math.ceil(len(flat) /
                                                                     num_clusters) + 1),
                          min_points_per_centroid=1, **extra)
    kmeans.train(flat)
    centroids = np.ascontiguousarray(kmeans.centroids, dtype=np.float32)
    times['fit'] = time.perf_counter() - t0

    t0 = time.perf_counter()
    half_norm = 0.5 * (centroids * centroids).sum(1)
    confusion = np.zeros((num_clusters, num_classes), np.int64)
    for feat, gt in zip(features, labels):
        gt = np.asarray(gt)
        up = F.interpolate(feat[None].float(), size=gt.shape, mode='bilinear',
                           align_corners=False)[0]
        pixels = up.reshape(up.shape[0], -1).t().numpy()  # (HW, D)
        pred = np.argmax(pixels @ centroids.T - half_norm, axis=1)
        gt = gt.reshape(-1).astype(np.int64)
        valid = (gt != ignore_index) & (gt >= 0) & (gt < num_classes)
        confusion += np.bincount(pred[valid] * num_classes + gt[valid],
                                 minlength=num_clusters * num_classes).reshape(
                                     num_clusters, num_classes)
    times['assign'] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = match_and_score(confusion, 'auto')
    times['score'] = time.perf_counter() - t0
    return dict(mIoU=float(scores['mIoU']), pAcc=float(scores['pAcc'])), times


def bench_eval(cfg, precision: str, num_images: int, img_size: int, num_clusters: int,
               batch_size: int, device: str, seed: int = 0, reference: bool = True,
               log: Log = print) -> dict:
    """The ``eval`` stage at one precision (see the module docstring)."""
    from mmdense.evaluation.dense import protocols
    from mmdense.evaluation.dense.features import collect_dense_features
    from mmdense.registry import MODELS

    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    if hasattr(model, 'init_weights'):
        model.init_weights()
    # as the analysis tools build it (build_model_from_config): channels-last convolutions
    model.to(device).eval().to(memory_format=torch.channels_last)
    num_classes = int(num_clusters)
    loader = GeneratedSegLoader(num_images, img_size, num_classes, batch_size)
    results: Dict[str, object] = OrderedDict(
        num_images=num_images, img_size=img_size, num_clusters=num_clusters,
        num_classes=num_classes, seeds=[seed], batch_size=batch_size,
        convention=EVAL_CONVENTION)

    log(f'[eval/{precision}] feature extraction: {num_images} images of {img_size} px')
    with MemoryProbe(device) as mem:
        t0 = time.perf_counter()
        with _autocast(device, precision):
            bank = collect_dense_features(model, loader, source='auto', normalize=True,
                                          progress=False)
        extract = time.perf_counter() - t0 - loader.gen_seconds
        log(f'[eval/{precision}] protocol: kmeans_eval (K={num_clusters}, seed {seed})')
        totals: Dict[str, float] = OrderedDict()
        t0 = time.perf_counter()
        with _timed_functions(protocols, dict(kmeans_fit='fit', dense_confusion='assign'),
                              totals):
            summary = protocols.kmeans_eval(bank, num_classes, num_clusters, seeds=[seed],
                                            progress=False)[0]
        cluster = time.perf_counter() - t0
    fdim = tuple(bank.features[0].shape)
    breakdown = OrderedDict(
        extract=round(extract, 3), fit=round(totals.get('fit', 0.), 3),
        assign=round(totals.get('assign', 0.), 3),
        other=round(cluster - totals.get('fit', 0.) - totals.get('assign', 0.), 3))
    total = extract + cluster
    results['feature_shape'] = list(fdim)
    results['generation_seconds'] = round(loader.gen_seconds, 3)
    results['subject'] = OrderedDict(
        name='protocol: collect_dense_features + kmeans_eval', seconds=round(total, 3),
        clustering_seconds=round(cluster, 3), breakdown_s=breakdown,
        img_per_s=round(num_images / total, 3), mIoU=round(summary['mIoU'], 3),
        pAcc=round(summary['pAcc'], 3), **mem.as_dict())
    refs = []
    if reference:
        log(f'[eval/{precision}] reference: faiss fit + numpy per-pixel assignment')
        with MemoryProbe(device) as mem:
            scores, parts = reference_kmeans_eval(bank.features, bank.labels, num_clusters,
                                                  num_classes, seed=seed)
        ref_cluster = sum(parts.values())
        refs.append(OrderedDict(
            name='reference: faiss.Kmeans + numpy nearest centroid per upsampled pixel',
            key='faiss_numpy', seconds=round(extract + ref_cluster, 3),
            clustering_seconds=round(ref_cluster, 3),
            breakdown_s=OrderedDict([('extract (shared)', round(extract, 3))] +
                                    [(k, round(v, 3)) for k, v in parts.items()]),
            img_per_s=round(num_images / (extract + ref_cluster), 3),
            mIoU=round(scores['mIoU'], 3), pAcc=round(scores['pAcc'], 3), **mem.as_dict()))
    results['references'] = refs
    _ratios(results)
    if refs:
        results['clustering_speedup'] = round(refs[0]['clustering_seconds'] /
                                              max(cluster, 1e-9), 3)
    scale = (EVAL_NUM_IMAGES / num_images) * (EVAL_IMG_SIZE / img_size)**2
    exact = num_images == EVAL_NUM_IMAGES and img_size == EVAL_IMG_SIZE
    projected = total * scale
    results['target'] = dict(
        text=TARGETS['eval']['text'], seconds=round(total, 3),
        projected_seconds=round(projected, 1), projected=not exact,
        projection=None if exact else (
            f'linear in images x pixels from {num_images} x {img_size}^2 to '
            f'{EVAL_NUM_IMAGES} x {EVAL_IMG_SIZE}^2 (x{scale:.2f})'),
        met=bool(projected <= TARGETS['eval']['max_seconds']))
    del model, bank
    return results
