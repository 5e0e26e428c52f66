# Copyright (c) mmdense contributors. All rights reserved.
"""Dense features of a model, through its inference interface.

Every model is read through :class:`~mmdense.models.algorithms.base.
BaseDenseSelfSupervisor`'s interface only (``extract_dense``,
``dense_stages``, ``num_clusters`` ...), never through a method's attribute
names, so that any dense method is evaluated the same way.

Which features (``source`` here, ``feature_source`` in the driver; the
model's ``extract_dense`` ``stage``), one of ``model.dense_stages``, usually:

- ``'auto'`` (default): the dense neck output when the model has a neck whose
  output is a ``(B, D, h, w)`` map, else the backbone's last output. For
  SlotCon this is the projector output ``z`` of the network ``predict`` uses
  (the EMA teacher by default), i.e. what its prototypes score.
- ``'neck'``: the neck output (an error if it is not a dense map).
- ``'backbone'``: the backbone's last output (e.g. C5 of a ResNet).
"""
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

#: the stages every ``BaseDenseSelfSupervisor`` accepts (a method may add more)
FEATURE_SOURCES = ('auto', 'neck', 'backbone')

#: what the evaluation reads from a model (see ``BaseDenseSelfSupervisor``)
DENSE_INTERFACE = ('extract_dense', 'dense_stages', 'num_clusters', 'dense_logits',
                   'dense_logit_scale', 'data_preprocessor')

# A saliency provider: (data_sample, dataset index, gt map) -> (H, W) ints,
# 0 = background, > 0 = object ids (bool masks are one object).
SaliencyFn = Callable[[object, int, np.ndarray], np.ndarray]


# --------------------------------------------------------------------------
# the model interface
# --------------------------------------------------------------------------
def check_dense_model(model: nn.Module, what: str = 'dense evaluation') -> nn.Module:
    """Return ``model`` if it has the dense inference interface, else raise.

    Raises:
        TypeError: naming the missing members and ``BaseDenseSelfSupervisor``.
    """
    missing = [name for name in DENSE_INTERFACE if not hasattr(model, name)]
    if missing:
        raise TypeError(
            f'{what}: {type(model).__name__} does not have the dense inference interface '
            f'(missing {", ".join(missing)}); derive the method from '
            'mmdense.models.algorithms.base.BaseDenseSelfSupervisor')
    return model


def check_stage(model: nn.Module, source: str) -> str:
    """``source`` if it is one of ``model.dense_stages``, else a ValueError."""
    stages = tuple(check_dense_model(model).dense_stages)
    if source not in stages:
        raise ValueError(f'feature_source {source!r} is not a dense stage of '
                         f'{type(model).__name__}: choose one of {stages}')
    return source


def uses_channels_last(model: nn.Module) -> bool:
    """Whether the model's convolution weights are stored channels-last (see
    :func:`mmdense.apis.build_model_from_config`)."""
    weights = [p for p in model.parameters() if p.dim() == 4]
    return bool(weights) and all(
        p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
        for p in weights[:4])


@torch.inference_mode()
def dense_features(model: nn.Module, inputs: torch.Tensor, source: str = 'auto') -> torch.Tensor:
    """Dense feature maps of a batch of (pre-processed) images.

    Runs under ``torch.inference_mode`` (no autograd bookkeeping); a model
    whose convolutions are channels-last gets its inputs in that layout too
    (on CPUs about 1.2x faster for a ResNet-50 than the NCHW path, equal to
    float rounding).

    Args:
        model (nn.Module): a ``BaseDenseSelfSupervisor`` (e.g. ``SlotCon``).
        inputs (Tensor): (B, 3, H, W) normalised images.
        source (str): one of ``model.dense_stages`` (see the module
            docstring); passed to ``model.extract_dense`` as ``stage``.

    Returns:
        Tensor: (B, D, h, w) features (not normalised).
    """
    stage = check_stage(model, source)  # before touching the model's members
    if uses_channels_last(model):
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return model.extract_dense(inputs, stage=stage).contiguous()


# --------------------------------------------------------------------------
# batches
# --------------------------------------------------------------------------
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
                 progress: bool = True,
                 label: str = 'extracting features') -> Iterator[Tuple[torch.Tensor, list]]:
    """``(inputs, data_samples)`` of every batch, after the model's data
    pre-processor (normalisation, BGR->RGB, device), with a progress bar
    named ``label``."""
    bar = None
    if progress:
        from .scoring import progress_bar
        try:
            total = len(dataloader.dataset)
        except (AttributeError, TypeError):
            total = 0
        bar = progress_bar(total, label)
    for data in dataloader:
        data = preprocess_batch(model, data)
        inputs, data_samples = data['inputs'], data['data_samples']
        yield inputs, data_samples
        if bar is not None:
            bar.update(inputs.shape[0])
    if bar is not None:
        bar.file.write('\n')


def gt_map(data_sample) -> np.ndarray:
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


#: ``saliency_fn`` value that takes the model's own saliency head
#: (``model.dense_saliency``, MaskContrast) as the background source.
MODEL_SALIENCY = 'model'


def objects_from_probability(prob: np.ndarray, threshold: float = 0.5,
                             split_components: bool = False) -> np.ndarray:
    """Object ids from a saliency probability map.

    Args:
        prob (np.ndarray): ``(H, W)`` foreground probabilities.
        threshold (float): salient where ``prob > threshold`` (0.5, the
            released MaskContrast evaluation).
        split_components (bool): every 8-connected salient component is
            its own object (ids 1, 2, ...); by default all salient pixels
            are one object (id 1), as in the paper.

    Returns:
        np.ndarray: ``(H, W)`` int32, 0 = background.
    """
    import cv2
    salient = (np.asarray(prob) > threshold).astype(np.uint8)
    if not split_components:
        return salient.astype(np.int32)
    _, comp = cv2.connectedComponents(salient, connectivity=8)
    return comp.astype(np.int32)


def _model_saliency(model: nn.Module, inputs: torch.Tensor, data_samples: list,
                    source: str) -> List[np.ndarray]:
    """Object maps of a batch from ``model.dense_saliency`` at each label's size."""
    if source != MODEL_SALIENCY:
        raise ValueError(f'saliency_fn must be a callable or {MODEL_SALIENCY!r}, got {source!r}')
    sizes = {tuple(gt_map(ds).shape) for ds in data_samples}
    if len(sizes) != 1:
        raise ValueError(f'model saliency: the labels of one batch differ in size: {sizes}')
    prob = model.dense_saliency(inputs, sizes.pop())
    if prob is None:
        raise ValueError(f'{type(model).__name__} has no saliency head (dense_saliency returns '
                         'None): give saliency masks (saliency_from_dir) instead')
    return [objects_from_probability(p) for p in prob.float().cpu().numpy()]


@torch.no_grad()
def collect_dense_features(model: nn.Module,
                           dataloader,
                           source: str = 'auto',
                           normalize: bool = True,
                           saliency_fn: Optional[SaliencyFn] = None,
                           progress: bool = True) -> DenseFeatureBank:
    """Run ``model`` over ``dataloader`` and keep its dense features.

    Args:
        model (nn.Module): a ``BaseDenseSelfSupervisor`` (put in eval mode here).
        dataloader: Yields mmseg-style batches (``inputs`` and
            ``data_samples`` with ``gt_sem_seg``), e.g. a config's
            ``test_dataloader``.
        source (str): one of ``model.dense_stages``, see :func:`dense_features`.
        normalize (bool): L2-normalise every feature vector. Defaults True.
        saliency_fn (callable | str, optional): ``fn(data_sample, index, gt)``
            returning the (H, W) saliency/object map of an image, at the
            ground truth's size; or ``'model'``: the model's own saliency
            head (``model.dense_saliency``, probabilities > 0.5 are one
            object per image, see ``objects_from_probability``).
        progress (bool): Show a progress bar.

    Returns:
        DenseFeatureBank: features (at feature resolution) and labels.
    """
    check_stage(model, source)  # before the first batch
    model.eval()
    bank = DenseFeatureBank(saliency=[] if saliency_fn is not None else None)
    for inputs, data_samples in iter_batches(model, dataloader, progress):
        feats = dense_features(model, inputs, source).float()
        if normalize:
            feats = F.normalize(feats, dim=1)
        feats = feats.cpu()
        model_saliency = None
        if isinstance(saliency_fn, str):
            model_saliency = _model_saliency(model, inputs, data_samples, saliency_fn)
        for i, (feat, data_sample) in enumerate(zip(feats, data_samples)):
            gt = gt_map(data_sample)
            if saliency_fn is not None:
                sal = (model_saliency[i] if model_saliency is not None else
                       np.asarray(saliency_fn(data_sample, len(bank), gt)))
                if sal.shape != gt.shape:
                    raise ValueError(
                        f'saliency map of image {len(bank)} has shape '
                        f'{sal.shape}, the ground truth {gt.shape}: give '
                        'masks at the evaluated (post-pipeline) size')
                bank.saliency.append(sal)
            bank.features.append(feat.clone())
            bank.labels.append(gt)
            bank.img_paths.append(str(data_sample.metainfo.get('img_path', '')))
    if not len(bank):
        raise ValueError('the dataloader yielded no images')
    return bank
