# Copyright (c) mmdense contributors. All rights reserved.
"""k-means with faiss, for clustering frozen dense features.

faiss-cpu is a requirement of mmdense, but it is imported lazily (on the
first call) so that importing :mod:`mmdense.evaluation` never needs it.
"""
import math
import warnings
from typing import Optional, Tuple

import numpy as np

INIT_METHODS = ('kmeans++', 'random')


def _import_faiss():
    """Import faiss or raise an ``ImportError`` that says what to install."""
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - faiss is a requirement
        raise ImportError(
            'k-means evaluation needs faiss: install `faiss-cpu` (or '
            '`faiss-gpu`), e.g. `pip install faiss-cpu`; it is listed in '
            "mmdense's requirements") from err
    return faiss


def _as_float32_2d(name: str, array) -> np.ndarray:
    """``array`` as a C-contiguous (N, D) float32 numpy array."""
    if hasattr(array, 'detach'):  # torch.Tensor
        array = array.detach().cpu().numpy()
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f'`{name}` must be an (N, D) array, got shape '
                         f'{array.shape}')
    if not np.isfinite(array).all():
        raise ValueError(f'`{name}` contains nan or inf values')
    return array


def kmeans_assign(features, centroids) -> np.ndarray:
    """Index of the nearest centroid (L2) of every row of ``features``.

    Args:
        features (np.ndarray | torch.Tensor): (N, D) vectors.
        centroids (np.ndarray | torch.Tensor): (K, D) centroids.

    Returns:
        np.ndarray: (N,) int64 cluster ids in ``[0, K)``.
    """
    faiss = _import_faiss()
    features = _as_float32_2d('features', features)
    centroids = _as_float32_2d('centroids', centroids)
    if features.shape[1] != centroids.shape[1]:
        raise ValueError(f'`features` have {features.shape[1]} dims but '
                         f'`centroids` have {centroids.shape[1]}')
    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(centroids)
    _, ids = index.search(features, 1)
    return ids[:, 0].astype(np.int64)


def kmeans_fit(features,
               k: int,
               seed: int = 0,
               niter: int = 30,
               nredo: int = 1,
               max_fit_samples: Optional[int] = None,
               spherical: bool = False,
               init: str = 'kmeans++',
               verbose: bool = False) -> np.ndarray:
    """Fit k-means centroids with ``faiss.Kmeans``.

    Args:
        features (np.ndarray | torch.Tensor): (N, D) vectors, N >= k.
        k (int): Number of clusters.
        seed (int): Seed of faiss's initialisation and of the subsample.
        niter (int): Lloyd iterations. Defaults to 30.
        nredo (int): Restarts; the run with the lowest objective is kept.
        max_fit_samples (int, optional): Fit on at most this many rows,
            drawn uniformly without replacement with ``seed``. None fits on
            all rows (faiss's own subsampling is turned off either way).
        spherical (bool): Normalise the centroids after every iteration.
        init (str): ``'kmeans++'`` (default; D^2-weighted seeding, far less
            likely to put two seeds in one cluster) or ``'random'`` (faiss's
            historical default: k random rows). A faiss without
            k-means++ seeding (older releases) falls back to random with a
            warning.
        verbose (bool): Let faiss print its progress.

    Returns:
        np.ndarray: (k, D) float32 centroids.
    """
    faiss = _import_faiss()
    features = _as_float32_2d('features', features)
    num = features.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f'`k` must be an int >= 1, got {k!r}')
    if max_fit_samples is not None and num > max_fit_samples:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(num, size=int(max_fit_samples),
                                  replace=False))
        features = features[keep]
        num = features.shape[0]
    if num < k:
        raise ValueError(f'k-means needs at least k={k} vectors to fit, got '
                         f'{num}')
    if init not in INIT_METHODS:
        raise ValueError(f'`init` must be one of {INIT_METHODS}, got {init!r}')
    extra = {}
    if init == 'kmeans++':
        method = getattr(faiss, 'ClusteringInitMethod_KMEANS_PLUS_PLUS', None)
        if method is None or not hasattr(faiss.ClusteringParameters(),
                                         'init_method'):
            warnings.warn('this faiss has no k-means++ seeding; using random '
                          'initialisation')
        else:
            extra['init_method'] = method
    kmeans = faiss.Kmeans(
        features.shape[1],
        int(k),
        niter=int(niter),
        nredo=int(nredo),
        seed=int(seed),
        spherical=bool(spherical),
        verbose=bool(verbose),
        # we subsample ourselves (seeded, above); keep faiss from doing it
        # again, and from warning about too few points per centroid.
        max_points_per_centroid=max(256, math.ceil(num / k) + 1),
        min_points_per_centroid=1,
        **extra)
    kmeans.train(features)
    return np.ascontiguousarray(kmeans.centroids, dtype=np.float32)


def kmeans_fit_predict(features,
                       k: int,
                       seed: int = 0,
                       niter: int = 30,
                       nredo: int = 1,
                       max_fit_samples: Optional[int] = None,
                       spherical: bool = False,
                       init: str = 'kmeans++',
                       verbose: bool = False
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Cluster ``features`` into ``k`` clusters with faiss.

    Fits on all rows, or on a seeded subsample of ``max_fit_samples`` rows,
    then assigns **every** row to its nearest centroid. The features are
    used as given: L2-normalise them first for cosine-like clustering (the
    dense evaluation does).

    Args:
        features (np.ndarray | torch.Tensor): (N, D) vectors, cast to
            float32.
        k (int): Number of clusters.
        seed (int): Seed of the initialisation and the subsample.
        niter (int): Lloyd iterations. Defaults to 30.
        nredo (int): Restarts (best objective kept). Defaults to 1.
        max_fit_samples (int, optional): Cap on the rows used for fitting.
        spherical (bool): Normalised centroids (spherical k-means).
        init (str): ``'kmeans++'`` (default) or ``'random'`` seeding.
        verbose (bool): faiss progress output.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``labels`` (N,) int64 in ``[0, k)``
        and ``centroids`` (k, D) float32.

    Raises:
        ImportError: If faiss is not installed.
        ValueError: If ``features`` is not (N, D), holds non-finite values
            or has fewer than ``k`` rows to fit on.
    """
    features = _as_float32_2d('features', features)
    centroids = kmeans_fit(features, k, seed=seed, niter=niter, nredo=nredo,
                           max_fit_samples=max_fit_samples,
                           spherical=spherical, init=init, verbose=verbose)
    return kmeans_assign(features, centroids), centroids
