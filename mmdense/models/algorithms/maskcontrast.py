# Copyright (c) mmdense contributors. All rights reserved.
"""MaskContrast: pixel embeddings contrasted against object-mask prototypes.

Van Gansbeke et al., "Unsupervised Semantic Segmentation by Contrasting Object
Mask Proposals", ICCV 2021. See ``docs/methods/maskcontrast.md`` and SPEC §4.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdense.models.utils import MomentumQueue, concat_all_gather, segment_mean_pool
from mmdense.registry import MODELS
from mmdense.structures import stack_view_maps
from .base import BaseDenseSelfSupervisor


def object_slots(masks: torch.Tensor, max_objects: int = 1) -> torch.Tensor:
    """Map saliency-mask ids to per-image prototype slots.

    ``max_objects == 1`` (the paper: one salient object per image): every
    id > 0 is slot 0. ``max_objects = M > 1``: id ``k`` is slot ``k - 1``
    for ``1 <= k <= M``; larger ids and the background (0) get no slot.

    Args:
        masks (Tensor): ``(B, H, W)`` integer ids, 0 = background.
        max_objects (int): M, prototype slots per image.

    Returns:
        Tensor: ``(B, H, W)`` long slots in ``[0, M)``, -1 for no slot.
    """
    masks = masks.long()
    if max_objects == 1:
        return torch.where(masks > 0, 0, -1)
    return torch.where((masks > 0) & (masks <= max_objects), masks - 1, -1)


def prototype_table(embeddings: torch.Tensor, slots: torch.Tensor,
                    max_objects: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised mean key embedding of every (image, slot).

    Args:
        embeddings (Tensor): ``(B, D, H, W)`` key embeddings.
        slots (Tensor): ``(B, H, W)`` slots from :func:`object_slots`.
        max_objects (int): M.

    Returns:
        tuple: ``(B * M, D)`` prototypes (row ``b * M + s``; zeros where
        absent) and their ``(B * M,)`` bool validity.
    """
    batch, dim = embeddings.shape[:2]
    pooled, batch_index, slot = segment_mean_pool(embeddings, slots)
    rows = batch_index * max_objects + slot
    table = embeddings.new_zeros(batch * max_objects, dim)
    table[rows] = F.normalize(pooled, dim=1)
    valid = torch.zeros(batch * max_objects, dtype=torch.bool, device=embeddings.device)
    valid[rows] = True
    return table, valid


@MODELS.register_module()
class MaskContrast(BaseDenseSelfSupervisor):
    """MaskContrast with a momentum key network and a prototype queue.

    Per step, for a query view and a key view of each image, each with its
    saliency mask cut alongside (``MultiViewRandomResizedCrop`` +
    ``MaskAreaRule``): the query network maps the query view to per-pixel
    embeddings ``z`` (``B x D x H x W``, L2-normalised) and saliency logits;
    the key network (EMA of the query network, m = 0.999) maps the key view
    to embeddings whose mean over each object's pixels is that object's
    prototype. Two losses:

    - *contrast*: every salient query pixel against its own object's key
      prototype, with the other prototypes of the batch (all ranks) and the
      queue as negatives (``PixelPrototypeContrastLoss``, T = 0.5);
    - *saliency*: (balanced) BCE of the query saliency logits against the
      query view's mask.

    The batch's prototypes are then enqueued.

    Args:
        backbone (dict): encoder (mmpretrain ``ResNet``, dilated, OS 8).
        neck (dict): decoder (``ASPPNeck``, 256 channels).
        head (dict): ``EmbeddingSaliencyHead`` (D = ``embed_dim``).
        contrast_loss (dict): ``PixelPrototypeContrastLoss``.
        saliency_loss (dict): ``SaliencyBCELoss``.
        queue_length (int): prototypes kept in the queue (128 paper, 256
            released unsupervised-saliency config).
        max_objects (int): prototype slots per image (1: the paper, every
            salient pixel is one object; see :func:`object_slots`).
        mask_key (str): the ``seg_fields`` key of the saliency masks.
        upsample (bool): compute embeddings, prototypes and losses at the
            view's resolution (bilinear, the released code) rather than at the
            decoder's (masks resized by nearest sampling).
        key_momentum (float): EMA weight of the key network (0.999, fixed).
        predict_with (str): 'student' (default: the query network, which the
            released code evaluates and fine-tunes) or 'teacher' (the key
            network).
        nonfinite_loss (str), max_nonfinite_skips (int): see
            ``NonFiniteLossMixin``.
        data_preprocessor (dict, optional): ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): initialisation (e.g. a ``Pretrained``
            backbone from an mmdense or mmpretrain checkpoint).
    """

    teacher_follows = ('backbone', 'neck', 'head')
    dense_stages = ('auto', 'embedding', 'neck', 'backbone')

    @classmethod
    def view_map_kinds(cls, model_cfg: dict) -> Dict[str, str]:
        """The saliency masks of every view, under ``mask_key``."""
        return {model_cfg.get('mask_key', 'gt_saliency'): 'objects'}

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 contrast_loss: dict,
                 saliency_loss: dict,
                 queue_length: int = 128,
                 max_objects: int = 1,
                 mask_key: str = 'gt_saliency',
                 upsample: bool = True,
                 key_momentum: float = 0.999,
                 predict_with: str = 'student',
                 nonfinite_loss: str = 'raise',
                 max_nonfinite_skips: int = 20,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head, predict_with=predict_with,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         nonfinite_loss=nonfinite_loss, max_nonfinite_skips=max_nonfinite_skips)
        for name, value in (('queue_length', queue_length), ('max_objects', max_objects)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f'MaskContrast: {name} must be an int >= 1, got {value!r}')
        self.contrast_loss = MODELS.build(contrast_loss)
        self.saliency_loss = MODELS.build(saliency_loss)
        # the released code starts from random unit vectors, counted as filled
        self.queue = MomentumQueue(queue_length, self.head.embed_dim, normalize=True,
                                   distributed=False, init_random=True)
        self.max_objects = max_objects
        self.mask_key = mask_key
        self.upsample = upsample
        self.build_teacher(key_momentum, key_momentum)

    @classmethod
    def check_config(cls, model_cfg: dict) -> List[Tuple[str, str]]:
        """The decoder's channels feed the head: ``neck.channels`` must equal
        ``head.in_channels`` when both are written."""
        neck, head = model_cfg.get('neck'), model_cfg.get('head')
        if isinstance(neck, dict) and isinstance(head, dict):
            if 'channels' in neck and 'in_channels' in head and \
                    neck['channels'] != head['in_channels']:
                return [('head.in_channels', f"{head['in_channels']!r} differs from "
                         f"model.neck.channels = {neck['channels']!r}")]
        return []

    @staticmethod
    def _encode(net: nn.Module, view: torch.Tensor,
                size: Optional[Tuple[int, int]]) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(embeddings (B, D, H, W), saliency logits (B, H, W))`` of a view."""
        return net.head(net.neck(net.backbone(view))[0], size)

    def _view_slots(self, data_samples: List, view: int,
                    size: Tuple[int, int], device: torch.device) -> Tuple[torch.Tensor, ...]:
        """Slots ``(B, h, w)`` and binary masks of one view's saliency maps at ``size``."""
        masks = stack_view_maps(data_samples, self.mask_key, view, device)
        if tuple(masks.shape[-2:]) != tuple(size):
            masks = F.interpolate(masks[:, None].float(), size=size,
                                  mode='nearest-exact')[:, 0].long()
        return object_slots(masks, self.max_objects), masks > 0

    # ------------------------------------------------------------------ training
    def loss(self, inputs: List[torch.Tensor], data_samples: List) -> Dict[str, torch.Tensor]:
        """Compute MaskContrast's losses on a batch of (query, key) views.

        Args:
            inputs (list[Tensor]): two ``(B, 3, H, W)`` views, query first.
            data_samples (list): per image, ``view_seg_maps[mask_key]``
                ``(2, H, W)`` saliency masks (0 background, ids > 0 objects).

        Returns:
            dict: ``loss_contrast`` and ``loss_saliency``.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('MaskContrast.loss expects a list of two views; check the pipeline '
                             '(MultiViewRandomResizedCrop + PackMultiViewInputs)')
        size = tuple(inputs[0].shape[-2:]) if self.upsample else None
        q_embed, q_saliency = self._encode(self, inputs[0], size)
        with torch.no_grad():
            self.update_teacher()
            k_embed, _ = self._encode(self.teacher.module, inputs[1], size)
        q_slots, q_fg = self._view_slots(data_samples, 0, q_embed.shape[-2:], q_embed.device)
        k_slots, _ = self._view_slots(data_samples, 1, k_embed.shape[-2:], k_embed.device)
        prototypes, valid = prototype_table(k_embed, k_slots, self.max_objects)

        salient = q_slots >= 0  # (B, H, W)
        image = torch.arange(q_slots.shape[0], device=q_slots.device)[:, None, None]
        target = (image * self.max_objects + q_slots)[salient]
        query = q_embed.permute(0, 2, 3, 1)[salient]  # (N, D)
        loss_contrast = self.contrast_loss(query, target, prototypes, valid, self.queue.queue,
                                           self.queue.valid())
        loss_saliency = self.saliency_loss(q_saliency, q_fg)
        self.queue.enqueue(concat_all_gather(prototypes)[concat_all_gather(valid)])
        return dict(loss_contrast=loss_contrast, loss_saliency=loss_saliency)

    # ------------------------------------------------------------------ inference interface
    @torch.no_grad()
    def extract_dense(self, inputs: torch.Tensor, stage: str = 'auto') -> torch.Tensor:
        """Dense features of a batch of images at the decoder's resolution.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised images.
            stage (str): 'auto' / 'embedding' (the ``D``-dim L2-normalised
                embeddings, what the k-means protocols cluster), 'neck' (the
                256-d decoder features, what the linear classifier reads) or
                'backbone' (the last backbone output).

        Returns:
            Tensor: ``(B, C, h, w)``.
        """
        if stage not in self.dense_stages:
            raise ValueError(f'MaskContrast: stage must be one of {self.dense_stages}, '
                             f'got {stage!r}')
        net = self.inference_network()
        feats = net.backbone(inputs)
        if stage == 'backbone':
            return feats[-1]
        decoder = net.neck(feats)[0]
        if stage == 'neck':
            return decoder
        return net.head(decoder)[0]

    @torch.no_grad()
    def dense_saliency(self, inputs: torch.Tensor,
                       size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """Saliency probabilities of the saliency head.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised images.
            size (tuple, optional): output ``(h, w)``; defaults to ``(H, W)``.

        Returns:
            Tensor: ``(B, h, w)`` in ``[0, 1]`` (sigmoid of the bilinearly
            resized logits).
        """
        return self._saliency(self._decoder(inputs), size or tuple(inputs.shape[-2:]))

    @torch.no_grad()
    def dense_predictions(self, inputs: torch.Tensor, size: Tuple[int, int]
                          ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and saliency from one backbone + decoder pass (what
        ``extract_dense(x)`` and ``dense_saliency(x, size)`` give apart)."""
        decoder = self._decoder(inputs)
        return self.inference_network().head(decoder)[0], self._saliency(decoder, size)

    def _decoder(self, inputs: torch.Tensor) -> torch.Tensor:
        net = self.inference_network()
        return net.neck(net.backbone(inputs))[0]

    def _saliency(self, decoder: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        _, logits = self.inference_network().head(decoder, size)
        return logits.float().sigmoid()
