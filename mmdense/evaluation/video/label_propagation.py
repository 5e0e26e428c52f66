# Copyright (c) mmdense contributors. All rights reserved.
"""Semi-supervised video object segmentation by label propagation (DAVIS 2017).

CrOC (section 4.2, appendix D) evaluates the spatio-temporal consistency of
frozen dense features the way DINO and CRW do: features of every frame are
computed independently; the first frame's ground-truth masks are propagated
frame by frame with a nearest-neighbour (k-NN) rule in feature space.

The protocol, with the defaults of DINO's ``eval_video_segmentation.py``
(facebookresearch/dino; argparse defaults ``--n_last_frames 7``,
``--size_mask_neighborhood 12``, ``--topk 5``, and the temperature 0.1 of
its ``torch.exp(torch.bmm(feat_tar, feat_sources) / 0.1)``):

1. Frames are resized so that the short side is 480 and the long side is
   floored to a multiple of 64 (DINO's ``read_frame``); features are taken
   through ``model.extract_dense(images, stage)`` after the model's own data
   pre-processor, for batches of frames at once.
2. The first frame's annotation is resized (nearest, pixel-centre) to the
   feature grid and one-hot encoded (C = largest object id + 1; the 255 void
   value counts as background, as in the DAVIS toolkit).
3. For each target frame t >= 1, the context is the first frame (its
   one-hot labels) and the ``n_last_frames`` previous frames (their
   propagated soft labels, before upsampling). Affinities are the cosine
   similarities of the L2-normalised target and context features divided by
   the temperature, restricted to a square neighbourhood of ``radius``
   feature cells around each target cell (in every context frame); for each
   target cell only the ``topk`` largest affinities over all context frames
   and cells are kept and turned into weights ``exp(a) / sum exp(a)``
   (= DINO's ``exp`` then sum-normalisation, computed stably); the soft label
   is the weighted sum of the context labels. (DINO keeps every affinity
   tied with the k-th one; here exactly k.)
4. The soft labels are upsampled bilinearly to the network input size, each
   channel is min-max normalised (DINO's ``norm_mask``; a constant channel
   is left as it is instead of DINO's 0 / 0), argmax, and the label map is
   resized (nearest) to the original frame size.

J and F are then computed as the DAVIS toolkit does
(:mod:`mmdense.evaluation.video.davis_metrics`).
"""
from collections import deque
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

#: images (B, 3, H, W) uint8 BGR -> dense features (B, D, h, w)
FeatureFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class PropagationConfig:
    """Settings of :func:`propagate_video` (defaults: DINO's).

    Attributes:
        n_last_frames (int): previous frames in the context queue (7).
        topk (int): neighbours kept per target cell (5).
        radius (int): neighbourhood half-size in feature cells (12); < 0 or
            None: no restriction.
        temperature (float): affinity temperature (0.1).
        short_side (int, optional): frames resized to this short side (480);
            None keeps the original size.
        multiple (int): long side floored to a multiple of this (64).
        batch_size (int): frames per feature-extraction batch.
        max_affinity_elements (int): bound on one affinity block (context
            cells x target cells); larger frames are processed in chunks of
            target cells.
    """
    n_last_frames: int = 7
    topk: int = 5
    radius: Optional[int] = 12
    temperature: float = 0.1
    short_side: Optional[int] = 480
    multiple: int = 64
    batch_size: int = 8
    max_affinity_elements: int = 1 << 26

    def __post_init__(self):
        if self.n_last_frames < 0 or self.topk < 1 or self.temperature <= 0:
            raise ValueError(f'invalid propagation settings: {self}')
        if self.multiple < 1 or self.batch_size < 1:
            raise ValueError(f'invalid propagation settings: {self}')


def frame_size(height: int, width: int, short_side: Optional[int] = 480,
               multiple: int = 64) -> Tuple[int, int]:
    """Network input size (H, W) of a frame, DINO's ``read_frame`` rule: the
    short side becomes ``short_side``, the long side is scaled alike and
    floored to a multiple of ``multiple``."""
    if short_side is None:
        return int(height), int(width)
    if height > width:
        w = int(short_side)
        h = int((short_side * height / width) // multiple * multiple)
    else:
        h = int(short_side)
        w = int((short_side * width / height) // multiple * multiple)
    return max(h, multiple), max(w, multiple)


def one_hot(label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(h, w) int labels -> (C, h, w) float one-hot."""
    return F.one_hot(label.long(), num_classes).permute(2, 0, 1).float()


def neighbourhood_mask(h: int, w: int, radius: Optional[int],
                       device=None) -> Optional[torch.Tensor]:
    """(h w, h w) bool: key cell within ``radius`` cells (Chebyshev) of the
    query cell (DINO's ``restrict_neighborhood``); None without restriction."""
    if radius is None or radius < 0:
        return None
    ii = torch.arange(h, device=device).repeat_interleave(w)
    jj = torch.arange(w, device=device).repeat(h)
    return ((ii[:, None] - ii[None, :]).abs() <= radius) & \
        ((jj[:, None] - jj[None, :]).abs() <= radius)


@torch.no_grad()
def propagate_labels(target_feat: torch.Tensor,
                     context_feats: torch.Tensor,
                     context_labels: torch.Tensor,
                     topk: int = 5,
                     temperature: float = 0.1,
                     neighbourhood: Optional[torch.Tensor] = None,
                     max_elements: int = 1 << 26) -> torch.Tensor:
    """Soft labels of one target frame from its context frames.

    Args:
        target_feat (Tensor): (D, N) features of the target frame's N cells.
        context_feats (Tensor): (M, D, N) features of M context frames.
        context_labels (Tensor): (M, C, N) their (soft) labels.
        topk (int): neighbours kept per target cell, over all M x N sources.
        temperature (float): affinity temperature.
        neighbourhood (Tensor, optional): (N, N) bool, ``[key, query]``.
        max_elements (int): bound on M x N x (target cells per chunk).

    Returns:
        Tensor: (C, N) soft labels.
    """
    m, _, n = context_feats.shape
    c = context_labels.shape[1]
    target = F.normalize(target_feat.float(), dim=0)
    sources = F.normalize(context_feats.float(), dim=1)
    labels = context_labels.float().permute(1, 0, 2).reshape(c, m * n)  # (C, M N)
    k = min(int(topk), m * n)
    out = target.new_empty(c, target.shape[1])
    chunk = max(1, int(max_elements) // max(m * n, 1))
    for start in range(0, target.shape[1], chunk):
        end = min(start + chunk, target.shape[1])
        logits = torch.einsum('mdk,dq->mkq', sources, target[:, start:end]) / temperature
        if neighbourhood is not None:
            logits.masked_fill_(~neighbourhood[None, :, start:end], float('-inf'))
        logits = logits.reshape(m * n, end - start)
        values, index = logits.topk(k, dim=0)  # (k, q)
        weights = torch.softmax(values, dim=0)
        out[:, start:end] = (labels[:, index] * weights[None]).sum(1)
    return out


def norm_mask(mask: torch.Tensor) -> torch.Tensor:
    """DINO's ``norm_mask``: min-max normalise each channel whose max > 0
    (a constant channel is kept as it is)."""
    mask = mask.clone()
    for i in range(mask.shape[0]):
        channel = mask[i]
        if channel.max() > 0:
            channel = channel - channel.min()
            top = channel.max()
            if top > 0:
                mask[i] = channel / top
    return mask


def _resize_labels(label: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Nearest (pixel-centre, as PIL's NEAREST) resize of an (h, w) label map."""
    if tuple(label.shape) == tuple(size):
        return label
    return F.interpolate(label[None, None].float(), size=tuple(size),
                         mode='nearest-exact')[0, 0].long()


@torch.no_grad()
def extract_frame_features(frames: Sequence[np.ndarray], feature_fn: FeatureFn,
                           size: Tuple[int, int], batch_size: int = 8,
                           device=None) -> torch.Tensor:
    """(T, D, h, w) features of BGR uint8 frames resized to ``size`` (H, W)."""
    import cv2
    feats = []
    for start in range(0, len(frames), batch_size):
        batch = []
        for img in frames[start:start + batch_size]:
            if tuple(img.shape[:2]) != tuple(size):
                img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
            batch.append(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1))
        images = torch.stack(batch)
        if device is not None:
            images = images.to(device)
        out = feature_fn(images)
        if out.dim() != 4 or out.shape[0] != images.shape[0]:
            raise ValueError(f'the feature extractor returned {tuple(out.shape)} for '
                             f'{images.shape[0]} frames: expected (B, D, h, w)')
        feats.append(out.float())
    return torch.cat(feats)


@torch.no_grad()
def propagate_video(frames: Sequence[np.ndarray],
                    first_annotation: np.ndarray,
                    feature_fn: FeatureFn,
                    cfg: Optional[PropagationConfig] = None,
                    device=None) -> List[np.ndarray]:
    """Propagate the first frame's annotation through a video.

    Args:
        frames (list[np.ndarray]): (H, W, 3) BGR uint8 frames, all one size.
        first_annotation (np.ndarray): (H, W) object ids of frame 0
            (0 background, 255 void -> background).
        feature_fn (callable): uint8 BGR images (B, 3, H', W') -> (B, D, h, w)
            features, e.g. :func:`model_feature_fn`.
        cfg (PropagationConfig, optional): settings (DINO's by default).
        device: where the frames go (default: the features' device).

    Returns:
        list[np.ndarray]: (H, W) uint8 label maps, one per frame; the first
        is the given annotation (void set to 0).
    """
    cfg = cfg or PropagationConfig()
    if not len(frames):
        raise ValueError('no frame')
    height, width = frames[0].shape[:2]
    first = np.asarray(first_annotation).astype(np.int64)
    if first.shape != (height, width):
        raise ValueError(f'first annotation {first.shape} and frames {(height, width)} '
                         'sizes differ')
    first = np.where(first == 255, 0, first)
    num_classes = int(first.max()) + 1
    size = frame_size(height, width, cfg.short_side, cfg.multiple)
    feats = extract_frame_features(frames, feature_fn, size, cfg.batch_size, device)
    t_frames, dim, h, w = feats.shape
    feats = feats.reshape(t_frames, dim, h * w)
    dev = feats.device
    first_small = _resize_labels(torch.from_numpy(first).to(dev), (h, w))
    first_labels = one_hot(first_small, num_classes).reshape(num_classes, h * w)
    nbr = neighbourhood_mask(h, w, cfg.radius, dev)
    queue = deque(maxlen=max(int(cfg.n_last_frames), 0) or None)
    outputs = [first.astype(np.uint8)]
    for t in range(1, t_frames):
        ctx_feats = [feats[0]] + [f for f, _ in queue]
        ctx_labels = [first_labels] + [s for _, s in queue]
        soft = propagate_labels(feats[t], torch.stack(ctx_feats), torch.stack(ctx_labels),
                                cfg.topk, cfg.temperature, nbr, cfg.max_affinity_elements)
        if cfg.n_last_frames > 0:
            queue.append((feats[t], soft))
        up = F.interpolate(soft.reshape(1, num_classes, h, w), size=size, mode='bilinear',
                           align_corners=False)[0]
        label = norm_mask(up).argmax(0)
        outputs.append(_resize_labels(label, (height, width)).cpu().numpy().astype(np.uint8))
    return outputs


def model_feature_fn(model: nn.Module, stage: str = 'auto') -> FeatureFn:
    """Features of a ``BaseDenseSelfSupervisor``: its data pre-processor (BGR
    -> RGB, normalisation, device), then ``model.extract_dense(x, stage)``."""
    from ..dense.features import check_stage, preprocess_batch
    check_stage(model, stage)

    def fn(images: torch.Tensor) -> torch.Tensor:
        data = preprocess_batch(model, dict(inputs=images, data_samples=None))
        return model.extract_dense(data['inputs'], stage=stage)

    return fn


@torch.no_grad()
def run_davis_propagation(feature_fn: FeatureFn,
                          dataset,
                          cfg: Optional[PropagationConfig] = None,
                          max_sequences: Optional[int] = None,
                          out_dir: Optional[str] = None,
                          device=None,
                          progress: bool = True,
                          log: Callable[[str], None] = print) -> Dict[str, object]:
    """Propagate and score every sequence of a :class:`~mmdense.datasets.
    davis.DAVIS2017` reader.

    Args:
        feature_fn (callable): see :func:`propagate_video`.
        dataset (DAVIS2017): the sequences.
        cfg (PropagationConfig, optional): settings.
        max_sequences (int, optional): the first N sequences only.
        out_dir (str, optional): write the predictions as indexed PNGs,
            ``<out_dir>/<sequence>/<frame>.png`` (the DAVIS result layout).
        device: where the frames go.
        progress (bool): log one line per sequence with ``log``.

    Returns:
        dict: ``sequences`` (``{name: evaluate_sequence result without the
        per-frame lists}``), ``summary`` (J / F / J&F means over objects, in
        percent, and ``num_objects``) and ``settings``.
    """
    import os
    import os.path as osp

    from mmdense.datasets.davis import write_indexed_png
    from .davis_metrics import evaluate_sequence, summarize
    cfg = cfg or PropagationConfig()
    names = list(dataset.sequences)
    if max_sequences is not None:
        names = names[:int(max_sequences)]
    results = {}
    for i, name in enumerate(names):
        frames = dataset.read_frames(name)
        annotations = dataset.read_annotations(name)
        preds = propagate_video(frames, annotations[0], feature_fn, cfg, device)
        if out_dir is not None:
            seq_dir = osp.join(out_dir, name)
            os.makedirs(seq_dir, exist_ok=True)
            palette = dataset.palette(name)
            for path, pred in zip(dataset.frame_paths(name), preds):
                stem = osp.splitext(osp.basename(path))[0]
                write_indexed_png(osp.join(seq_dir, stem + '.png'), pred, palette)
        res = evaluate_sequence(annotations, preds)
        results[name] = {k: v for k, v in res.items() if not k.endswith('_frames')}
        if progress:
            log(f'[{i + 1}/{len(names)}] {name}: J {100 * res["J_mean"]:.1f}  '
                f'F {100 * res["F_mean"]:.1f}  J&F {100 * res["JF_mean"]:.1f}  '
                f'({len(res["J"])} objects, {len(frames)} frames)')
    summary = summarize(results)
    summary = dict(J_mean=100 * summary['J_mean'], F_mean=100 * summary['F_mean'],
                   JF_mean=100 * summary['JF_mean'], num_objects=summary['num_objects'])
    return dict(sequences=results, summary=summary, settings=asdict(cfg))
