# Copyright (c) mmdense contributors. All rights reserved.
"""CrOC: cross-view online clustering on a ViT, with DINO's self-distillation.

Stegmüller et al., "CrOC: Cross-View Online Clustering for Dense Visual
Representation Learning", CVPR 2023. See ``docs/methods/croc.md``.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdense.models.utils import (ClusterAssignment, all_reduce_sum, patch_centers,
                                  tokens_to_map)
from mmdense.registry import MODELS
from mmdense.structures import stack_view_geometry
from .base import BaseDenseSelfSupervisor

TOKEN_SOURCES = ('queries', 'keys', 'values', 'last')


@MODELS.register_module()
class CrOC(BaseDenseSelfSupervisor):
    """CrOC with an EMA teacher (DINO machinery + online clustering).

    Per step, for two global views of each image: the teacher (moved first
    towards the student, cosine momentum) and the student encode both views
    (ViT tokens ``(2B, 1 + N, C)``). The teacher's last-block per-head
    queries / keys / values (or last-layer tokens) of both views are
    clustered jointly per (image, head) (:class:`CrossViewOnlineClustering`);
    each cluster present in both views gives one centroid per view and
    network, pooled from that network's last-layer patch tokens with the
    teacher's assignment and rescaled to the mean [CLS] norm. Two losses:

    - *global*: DINO loss on the [CLS] outputs of the shared head's first
      last layer, teacher view ``t`` vs student view ``s != t``;
    - *dense*: the same loss over matched centroids (view 1 vs view 2 and
      vice versa) on the head's second last layer, with its own centre.

    ``loss = beta * L_glob + alpha * L_dense`` (``alpha = dense_loss_weight``,
    1; ``beta = global_loss_weight``, 1 in the paper and the released code).

    **Multi-crop** (DINO's local views; off in the paper's runs, and the
    released code's ``--local_crops_number`` flag has no data path): views
    after the first two (a second ``MultiViewRandomResizedCrop`` group with
    ``overlap=False``) go through the student only and join the global loss
    as extra student views; the clustering and the dense loss use the two
    global views. Without such views the step is the paper's.

    Args:
        backbone (dict): ``QKVVisionTransformer`` with ``out_type='raw'``.
        head (dict): ``DINOHead`` with two ``out_dims`` (global, dense).
        clustering (dict): ``CrossViewOnlineClustering``.
        global_loss (dict): ``DINOLoss`` on [CLS] (``out_dim`` from the head).
        dense_loss (dict): ``DINOLoss`` on centroids (``out_dim`` from the head).
        token_source (str): what the teacher clusters: ``'queries'``,
            ``'keys'``, ``'values'`` (last block, per head) or ``'last'``
            (last-layer tokens split into heads).
        dense_loss_weight (float): ``alpha`` (1).
        global_loss_weight (float): ``beta`` (1); 0 trains the dense loss
            alone (the [CLS] head and its centre still run and update).
        teacher_momentum (float): teacher EMA weight at the start (0.996).
        end_teacher_momentum (float): teacher EMA weight at the end (1.0).
        predict_with (str): 'teacher' (default) or 'student'.
        nonfinite_loss (str): 'raise' (default) or 'skip'.
        max_nonfinite_skips (int): consecutive skips before stopping (20).
        data_preprocessor (dict, optional): ``SelfSupDataPreprocessor`` config.
        init_cfg (dict, optional): initialisation config.
    """

    teacher_follows = ('backbone', 'head')
    dense_stages = ('auto', 'backbone')

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 clustering: dict,
                 global_loss: dict,
                 dense_loss: dict,
                 token_source: str = 'values',
                 dense_loss_weight: float = 1.0,
                 global_loss_weight: float = 1.0,
                 teacher_momentum: float = 0.996,
                 end_teacher_momentum: float = 1.0,
                 predict_with: str = 'teacher',
                 nonfinite_loss: str = 'raise',
                 max_nonfinite_skips: int = 20,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        problems = self.check_config(dict(backbone=backbone, head=head, global_loss=global_loss,
                                          dense_loss=dense_loss, token_source=token_source))
        if problems:
            raise ValueError('CrOC: ' + '; '.join(f'{key}: {msg}' for key, msg in problems))
        super().__init__(backbone=backbone, head=head, predict_with=predict_with,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         nonfinite_loss=nonfinite_loss, max_nonfinite_skips=max_nonfinite_skips)
        self.clustering = MODELS.build(clustering)
        global_dim, dense_dim = self.head.out_dims
        self.global_loss = MODELS.build(dict(global_loss, out_dim=global_dim))
        self.dense_loss = MODELS.build(dict(dense_loss, out_dim=dense_dim))
        self.token_source = token_source
        self.dense_loss_weight = float(dense_loss_weight)
        self.global_loss_weight = float(global_loss_weight)
        self.build_teacher(teacher_momentum, end_teacher_momentum)
        _disable_drop_path(self.teacher.module)

    @classmethod
    def check_config(cls, model_cfg: dict) -> List[Tuple[str, str]]:
        """Raw ViT tokens, a two-output head, one source for each loss's K."""
        problems = []
        source = model_cfg.get('token_source', 'values')
        if source not in TOKEN_SOURCES:
            problems.append(('token_source', f'must be one of {TOKEN_SOURCES}, got {source!r}'))
        backbone = model_cfg.get('backbone')
        if isinstance(backbone, dict) and backbone.get('out_type', 'cls_token') != 'raw':
            problems.append(('backbone.out_type', "must be 'raw' (CrOC needs [CLS] and patch "
                             f"tokens), got {backbone.get('out_type', 'cls_token')!r}"))
        head = model_cfg.get('head')
        dims = head.get('out_dims') if isinstance(head, dict) else None
        if dims is not None and (isinstance(dims, int) or len(dims) != 2):
            problems.append(('head.out_dims', f'must be (global, dense) output sizes, got {dims!r}'))
        elif dims is not None:
            for index, key in enumerate(('global_loss', 'dense_loss')):
                loss = model_cfg.get(key)
                if isinstance(loss, dict) and loss.get('out_dim', dims[index]) != dims[index]:
                    problems.append((f'{key}.out_dim', f"{loss['out_dim']!r} differs from "
                                     f'head.out_dims[{index}] = {dims[index]}; leave it out (CrOC '
                                     'passes the head\'s size to the loss)'))
        return problems

    # ------------------------------------------------------------------ training
    def loss(self, inputs: List[torch.Tensor], data_samples: List) -> Dict[str, torch.Tensor]:
        """Compute CrOC's losses on a batch of view pairs.

        Args:
            inputs (list[Tensor]): two ``(B, 3, H, W)`` global views, then
                optionally L local views ``(B, 3, h, w)`` (student only).
            data_samples (list): per image, with ``view_crops`` ``(V, 4)`` and
                ``view_flips`` ``(V,)`` (see ``MultiViewRandomResizedCrop``);
                the first two rows are the global views'.

        Returns:
            dict: ``loss_global``, ``loss_dense`` and (logged only)
            ``num_centroids`` (matched centroids per image).
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError('CrOC.loss expects a list of two global views (then optional local '
                             'views); check the pipeline (MultiViewRandomResizedCrop + '
                             'PackMultiViewInputs)')
        if inputs[0].shape != inputs[1].shape:
            raise ValueError(f'CrOC.loss: the two global views differ in shape '
                             f'({tuple(inputs[0].shape)} vs {tuple(inputs[1].shape)}); put the '
                             'local views in a later view group')
        larger = [v for v, view in enumerate(inputs[2:], 2)
                  if view.shape[-2] * view.shape[-1] > inputs[0].shape[-2] * inputs[0].shape[-1]]
        if larger:
            raise ValueError(f'CrOC.loss: views {larger} are larger than the global views 0 and 1 '
                             f'({tuple(inputs[0].shape[-2:])}); the global view group must come '
                             'first in MultiViewRandomResizedCrop')
        batch = inputs[0].shape[0]
        images = torch.cat(list(inputs[:2]))  # (2B, 3, H, W), view-major
        crops, flips = stack_view_geometry(data_samples, device=images.device)
        grid = self.backbone.patch_grid(images.shape[-2:])

        student_tokens = self.backbone(images)[-1]
        student_cls = torch.cat([student_tokens[:, 0], *self._local_cls(inputs[2:])])
        with torch.no_grad():
            self.update_teacher()
            teacher = self.teacher.module
            teacher_tokens, qkv = teacher.backbone.forward_with_qkv(images)
            positions = self.token_positions(crops[:, :2], flips[:, :2], grid)
            assignment = self.clustering(*self._clustering_tokens(teacher_tokens, qkv, batch),
                                         positions)
            teacher_centroids = self._centroids(teacher_tokens, assignment)
            teacher_global = teacher.head(teacher_tokens[:, 0], 0).view(2, batch, -1)
            teacher_dense = teacher.head(teacher_centroids, 1)
        student_centroids = self._centroids(student_tokens, assignment)
        student_global = self.head(student_cls, 0).view(len(inputs), batch, -1)
        student_dense = self.head(student_centroids, 1)

        loss_global = self.global_loss(student_global, teacher_global)
        loss_dense = self.dense_loss(student_dense, teacher_dense)
        self.global_loss.update_center(teacher_global)
        self.dense_loss.update_center(teacher_dense)
        return dict(loss_global=self.global_loss_weight * loss_global,
                    loss_dense=self.dense_loss_weight * loss_dense,
                    num_centroids=images.new_tensor(teacher_centroids.shape[1] / batch))

    def _local_cls(self, local_views: List[torch.Tensor]) -> List[torch.Tensor]:
        """The student's [CLS] tokens of the local views, in view order.

        Consecutive views of one size share a backbone call (DINO's
        multi-crop wrapper does the same).

        Args:
            local_views (list[Tensor]): L views ``(B, 3, h_v, w_v)``.

        Returns:
            list[Tensor]: ``(n_run * B, C)`` per run of equally sized views.
        """
        runs: List[List[torch.Tensor]] = []
        for view in local_views:
            if runs and runs[-1][0].shape == view.shape:
                runs[-1].append(view)
            else:
                runs.append([view])
        return [self.backbone(torch.cat(run))[-1][:, 0] for run in runs]

    @staticmethod
    def token_positions(crops: torch.Tensor, flips: torch.Tensor,
                        grid: Tuple[int, int]) -> torch.Tensor:
        """Patch centres of every view in original-image pixels.

        Args:
            crops (Tensor): ``(B, V, 4)`` crops ``(x1, y1, x2, y2)``.
            flips (Tensor): ``(B, V)`` bool.
            grid (tuple): patch grid ``(h, w)``.

        Returns:
            Tensor: ``(B, V, h * w, 2)`` ``(x, y)`` (a flipped view's first
            column lies at its crop's right edge).
        """
        return torch.stack([patch_centers(crops[:, v], flips[:, v], grid)
                            for v in range(crops.shape[1])], dim=1)

    def _clustering_tokens(self, tokens: torch.Tensor, qkv: torch.Tensor,
                           batch: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """The teacher's per-head tokens to cluster, split into patches and [CLS].

        Args:
            tokens (Tensor): ``(2B, 1 + N, C)`` last-layer tokens.
            qkv (Tensor): ``(3, 2B, heads, 1 + N, d)`` last-block q/k/v.
            batch (int): B.

        Returns:
            tuple: ``(B, heads, 2, N, d)`` patch tokens and
            ``(B, heads, 2, d)`` [CLS] tokens.
        """
        if self.token_source == 'last':
            heads = qkv.shape[2]
            per_head = tokens.unflatten(-1, (heads, -1)).transpose(1, 2)
        else:
            per_head = qkv[TOKEN_SOURCES.index(self.token_source)]
        per_head = per_head.unflatten(0, (2, batch)).permute(1, 2, 0, 3, 4)
        return per_head[..., 1:, :], per_head[..., 0, :]

    @staticmethod
    def _centroids(tokens: torch.Tensor, assignment: ClusterAssignment) -> torch.Tensor:
        """Matched centroids of both views, at the mean [CLS] norm.

        Each centroid is the assignment-weighted sum of one network's
        last-layer patch tokens of one view, rescaled to the mean norm of
        that network's [CLS] tokens over the batch on all ranks (a constant,
        so N ranks equal one process).

        Args:
            tokens (Tensor): ``(2B, 1 + N, C)`` last-layer tokens.
            assignment (ClusterAssignment): the teacher's clustering.

        Returns:
            Tensor: ``(2, M, C)`` centroids of the M clusters present in both
            views (per-head clusters concatenated).
        """
        weights, valid = assignment.weights, assignment.valid
        patches = tokens[:, 1:].unflatten(0, (2, -1))  # (2, B, N, C)
        centroids = torch.einsum('vbnc,bhvnk->vbhkc', patches, weights.to(patches.dtype))
        centroids = centroids.flatten(1, 3)[:, valid.flatten()]
        cls_norm = tokens[:, 0].detach().float().norm(dim=-1)
        stats = all_reduce_sum(torch.stack([cls_norm.sum(), cls_norm.new_tensor(cls_norm.numel())]))
        return F.normalize(centroids, dim=-1) * (stats[0] / stats[1]).to(centroids.dtype)

    # ------------------------------------------------------------------ inference interface
    @torch.no_grad()
    def extract_dense(self, inputs: torch.Tensor, stage: str = 'auto') -> torch.Tensor:
        """Last-layer patch tokens of the inference network as a map.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised images.
            stage (str): ``'auto'`` or ``'backbone'`` (the same features).

        Returns:
            Tensor: ``(B, C, H / p, W / p)`` features, not normalised.
        """
        if stage not in self.dense_stages:
            raise ValueError(f'CrOC: stage must be one of {self.dense_stages}, got {stage!r}')
        backbone = self.inference_network().backbone
        tokens = backbone(inputs)[-1]
        return tokens_to_map(tokens, backbone.patch_grid(inputs.shape[-2:]),
                             num_extra_tokens=backbone.num_extra_tokens)


def _disable_drop_path(module: nn.Module) -> None:
    """Stochastic depth off in ``module`` (the teacher, as in DINO / CrOC)."""
    for sub in module.modules():
        if hasattr(sub, 'drop_prob'):
            sub.drop_prob = 0.
