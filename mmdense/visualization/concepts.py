# Copyright (c) mmdense contributors. All rights reserved.
"""Visual concept discovery: the top segments of every prototype.

SlotCon (appendix A.4) shows what its prototypes learned by retrieval:

1. every pixel of every image gets its argmax prototype (the prototype
   logits, bilinearly upsampled to the image, as in unsupervised
   segmentation);
2. a *segment* is the set of pixels of one image assigned to one prototype;
3. a segment's score is the mean, over its pixels, of the cosine between the
   pixel's feature and that prototype;
4. for every prototype, the ``topk`` highest-scoring segments of the dataset
   are drawn in a grid (rows = prototypes, columns = segments, the segment
   mask overlaid on its image).

(The paper average-pools each segment's features before the cosine; the mean
of the per-pixel cosines used here ranks segments almost identically and needs
no second feature pass.)

The model is read through the dense inference interface of
``BaseDenseSelfSupervisor`` only: the concepts are its prototypes
(``dense_logits``, cosine = logit / ``dense_logit_scale``, K =
``num_clusters``) or, for a method without prototypes, k-means centroids of
its ``extract_dense`` features (:func:`fit_concept_centroids`; cosine between
the normalised features and centroids).

Drawing uses numpy and OpenCV only (no GUI backend).
"""
import colorsys
import heapq
import itertools
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdense.evaluation.dense import check_dense_model, check_stage, iter_batches, preprocess_batch
from mmdense.evaluation.functional.kmeans import kmeans_fit


def prototype_palette(num: int) -> np.ndarray:
    """``num`` distinct colours, (num, 3) uint8 in **BGR** order.

    Golden-ratio hue steps with three saturation / value tones, so that
    neighbouring ids are far apart.
    """
    colours = []
    for idx in range(num):
        hue = (idx * 0.618033988749895) % 1.0
        sat, val = ((0.85, 1.0), (0.6, 0.85), (1.0, 0.7))[idx % 3]
        r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
        colours.append([int(round(255 * b)), int(round(255 * g)),
                        int(round(255 * r))])
    return np.array(colours, dtype=np.uint8).reshape(num, 3)


@dataclass
class ConceptSegment:
    """One segment: the pixels of image ``index`` assigned to ``prototype``.

    Attributes:
        score (float): Mean cosine between the segment's pixels and the
            prototype.
        index (int): Position of the image in the dataset (iteration order).
        prototype (int): Prototype id.
        area (float): Fraction of the image covered by the segment.
        packed_mask (np.ndarray): ``np.packbits`` of the (H, W) bool mask.
        shape (tuple): (H, W) of the mask.
    """
    score: float
    index: int
    prototype: int
    area: float
    packed_mask: np.ndarray
    shape: Tuple[int, int]

    @property
    def mask(self) -> np.ndarray:
        """The (H, W) bool mask."""
        size = self.shape[0] * self.shape[1]
        return np.unpackbits(self.packed_mask, count=size).reshape(
            self.shape).astype(bool)


def num_concepts(model: nn.Module, centroids: Optional[torch.Tensor] = None) -> int:
    """K: the number of centroids, else of the model's prototypes.

    Raises:
        ValueError: for a model without prototypes and no centroids.
    """
    if centroids is not None:
        return int(centroids.shape[0])
    num = check_dense_model(model, 'concept discovery').num_clusters
    if num is None:
        raise ValueError(f'{type(model).__name__} has no prototypes (num_clusters is None): '
                         'discover concepts on k-means centroids of its dense features '
                         '(fit_concept_centroids; visualize_concepts.py --kmeans K)')
    return int(num)


@torch.no_grad()
def concept_logits(model: nn.Module,
                   inputs: torch.Tensor,
                   centroids: Optional[torch.Tensor] = None,
                   stage: str = 'auto',
                   size: Optional[Tuple[int, int]] = None) -> Tuple[torch.Tensor, float]:
    """``(B, K, H, W)`` concept logits of a batch, and their scale.

    Without ``centroids``: the model's prototype logits (``dense_logits``)
    and ``dense_logit_scale`` (logit = cosine x scale). With ``centroids``
    (K, D): the cosine between the L2-normalised ``extract_dense(inputs,
    stage)`` features and the normalised centroids, scale 1. Either is
    bilinearly upsampled to ``size`` (default: the input size).
    """
    check_dense_model(model, 'concept discovery')
    size = tuple(size or inputs.shape[-2:])
    if centroids is None:
        return model.dense_logits(inputs, size=size).float(), float(model.dense_logit_scale)
    feats = F.normalize(model.extract_dense(inputs, stage=check_stage(model, stage)).float(), dim=1)
    cents = F.normalize(centroids.to(feats), dim=1)
    cos = torch.einsum('kd,bdhw->bkhw', cents, feats)
    if tuple(cos.shape[-2:]) != size:
        cos = F.interpolate(cos, size=size, mode='bilinear', align_corners=False)
    return cos, 1.0


@torch.no_grad()
def fit_concept_centroids(model: nn.Module,
                          dataloader,
                          num_clusters: int,
                          stage: str = 'auto',
                          seed: int = 0,
                          niter: int = 30,
                          max_images: Optional[int] = None,
                          max_fit_samples: Optional[int] = 1_000_000,
                          progress: bool = True) -> torch.Tensor:
    """k-means centroids (K, D) of the L2-normalised ``extract_dense``
    features of (the first ``max_images`` images of) ``dataloader``: the
    concepts of a method without prototypes."""
    check_stage(check_dense_model(model, 'concept discovery'), stage)
    model.eval()
    chunks, seen = [], 0
    for inputs, _ in iter_batches(model, dataloader, progress):
        if max_images is not None:
            inputs = inputs[:max(0, max_images - seen)]
        if not len(inputs):
            break
        feats = F.normalize(model.extract_dense(inputs, stage=stage).float(), dim=1)
        chunks.append(feats.permute(0, 2, 3, 1).flatten(0, 2).cpu())
        seen += len(inputs)
        if max_images is not None and seen >= max_images:
            break
    if not chunks:
        raise ValueError('the dataloader yielded no images')
    centroids = kmeans_fit(torch.cat(chunks).numpy(), int(num_clusters), seed=seed,
                           niter=niter, max_fit_samples=max_fit_samples)
    return torch.from_numpy(centroids)


@torch.no_grad()
def discover_concepts(model: nn.Module,
                      dataloader,
                      topk: int = 8,
                      max_images: Optional[int] = None,
                      min_area: float = 0.005,
                      progress: bool = True,
                      centroids: Optional[torch.Tensor] = None,
                      stage: str = 'auto'
                      ) -> Tuple[Dict[int, List[ConceptSegment]], int]:
    """Top-``topk`` segments of every prototype over a dataset.

    Args:
        model (nn.Module): a ``BaseDenseSelfSupervisor``; its prototypes
            (``dense_logits``) are the concepts unless ``centroids`` are given.
        dataloader: Batches of images (mmseg / mmpretrain layout) in a fixed
            order (no shuffling): the segment's ``index`` counts images in
            iteration order.
        topk (int): Segments kept per prototype.
        max_images (int, optional): Stop after this many images.
        min_area (float): Skip segments covering less than this fraction of
            their image (specks). Defaults to 0.005.
        progress (bool): Show a progress bar.
        centroids (Tensor, optional): (K, D) concepts in ``extract_dense``
            feature space instead of the prototypes (see
            :func:`fit_concept_centroids`).
        stage (str): ``extract_dense`` stage of the features compared with
            ``centroids``.

    Returns:
        tuple: ``{prototype: [ConceptSegment, ...] best first}`` (every
        prototype present, possibly with an empty list) and the number of
        images seen.
    """
    num_protos = num_concepts(model, centroids)
    model.eval()
    heaps: Dict[int, list] = {}
    tie = itertools.count()  # heap tie-breaker, never compare masks
    seen = 0
    batches = 0
    for inputs, _ in iter_batches(model, dataloader, progress):
        batches += 1
        logits, scale = concept_logits(model, inputs, centroids, stage)  # (B, K, H, W)
        if logits.shape[1] != num_protos:
            raise ValueError(f'{type(model).__name__}: concept logits have {logits.shape[1]} '
                             f'channels, expected K = {num_protos}')
        assign = logits.argmax(1)  # (B, H, W)
        cos = logits.gather(1, assign[:, None])[:, 0] / scale
        height, width = assign.shape[-2:]
        for b in range(assign.shape[0]):
            if max_images is not None and seen >= max_images:
                break
            flat = assign[b].flatten()
            counts = torch.bincount(flat, minlength=num_protos).cpu()
            sums = torch.zeros(num_protos, dtype=cos.dtype).scatter_add_(
                0, flat.cpu(), cos[b].flatten().cpu())
            assign_np = assign[b].cpu().numpy()
            for proto in torch.nonzero(counts).flatten().tolist():
                area = float(counts[proto]) / (height * width)
                if area < min_area:
                    continue
                score = float(sums[proto] / counts[proto])
                heap = heaps.setdefault(proto, [])
                if len(heap) >= topk and score <= heap[0][0]:
                    continue
                seg = ConceptSegment(score, seen, proto, area,
                                     np.packbits(assign_np == proto),
                                     (int(height), int(width)))
                item = (score, next(tie), seg)
                if len(heap) < topk:
                    heapq.heappush(heap, item)
                else:
                    heapq.heapreplace(heap, item)
            seen += 1
        if max_images is not None and seen >= max_images:
            break
    if not batches:
        raise ValueError('the dataloader yielded no images')
    concepts = {
        proto: [item[2] for item in sorted(heaps.get(proto, []),
                                           key=lambda it: -it[0])]
        for proto in range(num_protos)
    }
    return concepts, seen


def dataset_image(dataset, index: int) -> np.ndarray:
    """Image ``index`` of ``dataset`` after its pipeline, (H, W, 3) uint8 BGR.

    Works with mmseg / mmpretrain packed samples (``inputs`` a (3, H, W)
    tensor in the channel order the image was loaded in: BGR for cv2/mmcv
    loading and for ``SyntheticSceneDataset``).
    """
    sample = dataset[index]
    img = sample['inputs'] if isinstance(sample, dict) else sample
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().numpy()
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[0] in (1, 3):
        img = img.transpose(1, 2, 0)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def _fit_square(img: np.ndarray, size: int,
                interpolation=cv2.INTER_AREA) -> np.ndarray:
    """Resize the short side to ``size`` and centre-crop to a square."""
    h, w = img.shape[:2]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    img = cv2.resize(img, (new_w, new_h), interpolation=interpolation)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return img[top:top + size, left:left + size]


def draw_segment_tile(img: np.ndarray,
                      mask: np.ndarray,
                      colour: Sequence[int],
                      size: int,
                      score: Optional[float] = None,
                      dim: float = 0.3) -> np.ndarray:
    """One grid tile: ``img`` with ``mask`` kept bright, the rest dimmed,
    the mask outline in ``colour``, the score written in a corner.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR.
        mask (np.ndarray): (H, W) bool.
        colour (Sequence[int]): BGR outline colour.
        size (int): Tile side in pixels.
        score (float, optional): Written at the bottom-left.
        dim (float): Brightness kept outside the mask.

    Returns:
        np.ndarray: (size, size, 3) uint8.
    """
    tile = _fit_square(img, size).astype(np.float32)
    keep = _fit_square(mask.astype(np.uint8) * 255, size,
                       cv2.INTER_NEAREST) > 127
    tile[~keep] *= dim
    tile = tile.astype(np.uint8)
    contours, _ = cv2.findContours(keep.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(tile, contours, -1, tuple(int(c) for c in colour),
                     1 if size < 80 else 2)
    if score is not None and size >= 48:
        text = f'{score:.2f}'
        org = (3, size - 4)
        cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                    (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def concept_grid_shape(num_rows: int, topk: int, tile: int,
                       label_width: int = 48,
                       pad: int = 2) -> Tuple[int, int]:
    """(height, width) of a grid drawn by :func:`draw_concept_grid`:
    ``pad + rows * (tile + pad)`` by
    ``label_width + pad + topk * (tile + pad)``."""
    return (pad + num_rows * (tile + pad),
            label_width + pad + topk * (tile + pad))


def draw_concept_grid(concepts: Dict[int, List[ConceptSegment]],
                      images: Dict[int, np.ndarray],
                      prototypes: Sequence[int],
                      topk: int,
                      tile: int = 96,
                      label_width: int = 48,
                      pad: int = 2,
                      palette: Optional[np.ndarray] = None) -> np.ndarray:
    """Draw the concept grid: one row per prototype in ``prototypes``.

    The left column shows the prototype's colour and id; the ``topk``
    columns its best segments (score in the corner), grey when the
    prototype has fewer segments.

    Args:
        concepts (dict): From :func:`discover_concepts`.
        images (dict): ``{index: (H, W, 3) uint8 BGR}`` for every segment's
            image.
        prototypes (Sequence[int]): The rows, in order.
        topk (int): Columns.
        tile (int): Tile side in pixels.
        label_width (int): Width of the label column.
        pad (int): Gap between tiles.
        palette (np.ndarray, optional): (K, 3) BGR colours; defaults to
            :func:`prototype_palette`.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image of
        :func:`concept_grid_shape`.
    """
    num_protos = max(list(concepts) + list(prototypes)) + 1
    palette = prototype_palette(num_protos) if palette is None else palette
    height, width = concept_grid_shape(len(prototypes), topk, tile,
                                       label_width, pad)
    canvas = np.full((height, width, 3), 255, np.uint8)
    for row, proto in enumerate(prototypes):
        y0 = pad + row * (tile + pad)
        colour = tuple(int(c) for c in palette[proto])
        sw = min(label_width - 2 * pad, tile // 3)
        cv2.rectangle(canvas, (pad, y0 + pad), (pad + sw, y0 + pad + sw),
                      colour, -1)
        cv2.putText(canvas, f'P{proto}', (pad, y0 + pad + sw + 14),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
        segs = concepts.get(proto, [])
        for col in range(topk):
            x0 = label_width + pad + col * (tile + pad)
            if col < len(segs):
                seg = segs[col]
                piece = draw_segment_tile(images[seg.index], seg.mask,
                                          colour, tile, seg.score)
            else:
                piece = np.full((tile, tile, 3), 220, np.uint8)
            canvas[y0:y0 + tile, x0:x0 + tile] = piece
    return canvas


def colorize_assignment(assign: np.ndarray,
                        palette: np.ndarray) -> np.ndarray:
    """(H, W) ids -> (H, W, 3) uint8 colours of ``palette`` (ids outside
    the palette, e.g. 255, are black)."""
    assign = np.asarray(assign).astype(np.int64)
    out = np.zeros(assign.shape + (3, ), np.uint8)
    valid = (assign >= 0) & (assign < len(palette))
    out[valid] = palette[assign[valid]]
    return out


def draw_assignment_overlay(img: np.ndarray,
                            assign: np.ndarray,
                            palette: np.ndarray,
                            gt: Optional[np.ndarray] = None,
                            gt_palette: Optional[np.ndarray] = None,
                            alpha: float = 0.55,
                            pad: int = 2) -> np.ndarray:
    """Side by side: the image, the image blended with the prototype colours
    (with segment boundaries), and, if given, the ground truth in
    ``gt_palette``.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR.
        assign (np.ndarray): (H, W) prototype ids.
        palette (np.ndarray): (K, 3) BGR prototype colours.
        gt (np.ndarray, optional): (H, W) class ids (255 drawn black).
        gt_palette (np.ndarray, optional): (C, 3) BGR class colours.
        alpha (float): Weight of the colours in the blend.
        pad (int): White gap between panels.

    Returns:
        np.ndarray: (H, 2W + pad or 3W + 2 pad, 3) uint8 BGR.
    """
    colours = colorize_assignment(assign, palette)
    blend = cv2.addWeighted(img, 1 - alpha, colours, alpha, 0)
    assign = np.asarray(assign)
    edge = np.zeros(assign.shape, bool)
    edge[1:] |= assign[1:] != assign[:-1]
    edge[:, 1:] |= assign[:, 1:] != assign[:, :-1]
    blend[edge] = (255, 255, 255)
    panels = [img, blend]
    if gt is not None:
        gt_palette = prototype_palette(int(np.max(gt[gt != 255], initial=0))
                                       + 1) if gt_palette is None \
            else gt_palette
        panels.append(colorize_assignment(gt, gt_palette))
    gap = np.full((img.shape[0], pad, 3), 255, np.uint8)
    out = [panels[0]]
    for panel in panels[1:]:
        out += [gap, panel]
    return np.concatenate(out, axis=1)


@torch.no_grad()
def prototype_assignment(model: nn.Module,
                         inputs: torch.Tensor,
                         centroids: Optional[torch.Tensor] = None,
                         stage: str = 'auto') -> np.ndarray:
    """(B, H, W) argmax prototype (or centroid, see :func:`concept_logits`)
    of every pixel, logits upsampled to the input size."""
    return concept_logits(model, inputs, centroids, stage)[0].argmax(1).cpu().numpy()


@torch.no_grad()
def dataset_overlay(model: nn.Module,
                    dataset,
                    index: int,
                    palette: Optional[np.ndarray] = None,
                    gt_palette: Optional[np.ndarray] = None,
                    centroids: Optional[torch.Tensor] = None,
                    stage: str = 'auto') -> np.ndarray:
    """:func:`draw_assignment_overlay` of image ``index`` of ``dataset``
    (a packed mmseg sample; its ground truth is drawn when it has one of
    the image's size).

    Args:
        model (nn.Module): a ``BaseDenseSelfSupervisor`` (prototypes, or
            ``centroids`` of its ``extract_dense`` features at ``stage``).
        dataset: Dataset whose items are ``dict(inputs, data_samples)``.
        index (int): Image index.
        palette (np.ndarray, optional): (K, 3) BGR prototype colours.
        gt_palette (np.ndarray, optional): (C, 3) BGR class colours.
        centroids (Tensor, optional), stage (str): see :func:`concept_logits`.

    Returns:
        np.ndarray: The side-by-side panel, uint8 BGR.
    """
    sample = dataset[index]
    data = preprocess_batch(
        model, dict(inputs=[sample['inputs']],
                    data_samples=[sample['data_samples']]))
    assign = prototype_assignment(model, data['inputs'], centroids, stage)[0]
    if palette is None:
        palette = prototype_palette(int(assign.max()) + 1)
    gt = None
    data_sample = sample['data_samples']
    if 'gt_sem_seg' in data_sample:
        gt = data_sample.gt_sem_seg.data[0].cpu().numpy()
        if gt.shape != assign.shape:
            gt = None
    return draw_assignment_overlay(dataset_image(dataset, index), assign,
                                   palette, gt, gt_palette)


def save_png(path: str, img: np.ndarray,
             max_colors: Optional[int] = None) -> None:
    """Write a BGR uint8 image as PNG (maximum zlib compression).

    Args:
        path (str): Output path.
        img (np.ndarray): (H, W, 3) uint8 BGR.
        max_colors (int, optional): Quantise to a palette PNG of at most
            this many colours (2..256, median cut, no dithering): several
            times smaller for noisy photos, e.g. for documentation.
    """
    if max_colors is None:
        if not cv2.imwrite(path, img, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f'could not write {path}')
        return
    if not 2 <= int(max_colors) <= 256:
        raise ValueError(f'max_colors must be in [2, 256], got {max_colors}')
    from PIL import Image
    rgb = Image.fromarray(np.ascontiguousarray(img[..., ::-1]))
    quantize = getattr(Image, 'Quantize', Image)  # Pillow >= 9.1 enums
    dither = getattr(Image, 'Dither', Image)
    quant = rgb.quantize(colors=int(max_colors), method=quantize.MEDIANCUT,
                         dither=dither.NONE)
    quant.save(path, optimize=True)
