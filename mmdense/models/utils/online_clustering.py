# Copyright (c) mmdense contributors. All rights reserved.
"""CrOC's cross-view online clustering, batched over images and heads.

Stegmüller et al., "CrOC: Cross-View Online Clustering for Dense Visual
Representation Learning", CVPR 2023 (SPEC §2). The tokens of two views of one
image are clustered jointly, so that a cluster found in both views links a
region of view 1 to the same region of view 2.

Written by hand: it is an optimal-transport clustering with a cluster count
chosen by transport cost, which no library offers (faiss / scikit-learn
k-means have neither the transport marginals nor the agglomerative merge);
the Sinkhorn step is the shared :func:`sinkhorn_knopp`. Every step works on
one ``(B * heads, 2N, K)`` tensor; the only Python loop is over the
``K_start - 2`` merges.
"""
from typing import NamedTuple, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdense.registry import MODELS
from .sinkhorn import sinkhorn_knopp, transport_cost

COST_NORMS = ('batch', 'item')
SEEDINGS = ('multinomial', 'topk')
#: relative gap below which clusters tie for a token in the arg-max assignment
TIE_RTOL = 1e-5


class ClusterAssignment(NamedTuple):
    """Result of :class:`CrossViewOnlineClustering`.

    Attributes:
        weights (Tensor): ``(B, heads, V, N, K)`` per view, the plan of the
            chosen K normalised per view and cluster, kept only on each
            token's arg-max cluster(s) (zero elsewhere): the pooling weights
            of the centroids.
        valid (Tensor): ``(B, heads, K)`` bool, clusters present in every view.
        num_clusters (Tensor): ``(B, heads)`` chosen K (before pruning).
        costs (Tensor): ``(B, heads, S)`` transport cost at K = K_start .. 2.
    """
    weights: torch.Tensor
    valid: torch.Tensor
    num_clusters: torch.Tensor
    costs: torch.Tensor


@MODELS.register_module()
class CrossViewOnlineClustering(nn.Module):
    """Joint clustering of the tokens of two views, per image and head.

    For every (image, head): both views' tokens are L2-normalised and pooled
    (2N tokens); ``K_start`` seeds are drawn with probability
    ``softmax(r / T)``, ``r`` = cosine of each token with its view's [CLS];
    the cost of token ``n`` to centroid ``k`` is
    ``-cos(x_n, mu_k) + lambda_pos * |p_n - p_k| / max|p - p|`` with ``p`` the
    patch centres in the original image, min-max normalised to [0, 1]; the
    Sinkhorn plan (rows to ``softmax(r / T)``, columns to the centroids'
    marginal) gives the transport cost ``<P, M>``; the two most similar
    centroids are merged and everything is recomputed, down to
    ``min_clusters``. The plan with the lowest cost among the eligible K is
    kept, tokens go to their arg-max cluster and clusters absent from a view
    are marked invalid.

    Args:
        num_seeds (int): K_start (paper 12, released code 5).
        max_eligible (int, optional): largest K the best-cost pick may choose
            (released code 4); ``None`` = ``num_seeds`` (paper).
        min_clusters (int): the merges stop here (2).
        lambda_pos (float): weight of the positional cost (4 COCO, 3 IN).
        sinkhorn_lambda (float): ``lambda`` of ``exp(-lambda M)`` (20).
        sinkhorn_iters (int): Sinkhorn iterations (5).
        uniform_marginals (bool): uniform token / centroid marginals instead
            of the [CLS]-weighted ones.
        marginal_temperature (float): ``T`` of the softmaxes (2).
        cost_norm (str): min-max of the cost over the whole ``'batch'``
            (released code) or per ``'item'`` (image, head).
        seeding (str): ``'multinomial'`` (sample without replacement, as the
            code) or ``'topk'`` (the K_start highest weights: deterministic).
    """

    def __init__(self,
                 num_seeds: int = 12,
                 max_eligible: Optional[int] = None,
                 min_clusters: int = 2,
                 lambda_pos: float = 4.,
                 sinkhorn_lambda: float = 20.,
                 sinkhorn_iters: int = 5,
                 uniform_marginals: bool = False,
                 marginal_temperature: float = 2.,
                 cost_norm: str = 'batch',
                 seeding: str = 'multinomial') -> None:
        super().__init__()
        max_eligible = num_seeds if max_eligible is None else max_eligible
        if not 1 <= min_clusters <= max_eligible <= num_seeds:
            raise ValueError('CrossViewOnlineClustering: need 1 <= min_clusters <= max_eligible '
                             f'<= num_seeds, got {min_clusters}, {max_eligible}, {num_seeds}')
        if cost_norm not in COST_NORMS:
            raise ValueError(f'cost_norm must be one of {COST_NORMS}, got {cost_norm!r}')
        if seeding not in SEEDINGS:
            raise ValueError(f'seeding must be one of {SEEDINGS}, got {seeding!r}')
        self.num_seeds = num_seeds
        self.max_eligible = max_eligible
        self.min_clusters = min_clusters
        self.lambda_pos = float(lambda_pos)
        self.sinkhorn_lambda = float(sinkhorn_lambda)
        self.sinkhorn_iters = sinkhorn_iters
        self.uniform_marginals = uniform_marginals
        self.marginal_temperature = float(marginal_temperature)
        self.cost_norm = cost_norm
        self.seeding = seeding

    # ------------------------------------------------------------------ steps
    def _seed(self, weights: torch.Tensor) -> torch.Tensor:
        """``(BH, K0)`` token indices of the seeds, drawn from ``weights``."""
        if self.seeding == 'topk':
            return weights.topk(self.num_seeds, dim=1).indices
        return torch.multinomial(weights, self.num_seeds, replacement=False)

    def transport(self, cost: torch.Tensor, row_marginal: torch.Tensor,
                  col_marginal: torch.Tensor) -> torch.Tensor:
        """Sinkhorn plan ``(BH, T, K)`` of ``exp(-lambda M)``: rows scaled to
        ``row_marginal`` ``(BH, T)``, then columns to ``col_marginal``
        ``(BH, K)`` (zero for dead clusters), ``sinkhorn_iters`` times."""
        return sinkhorn_knopp(cost, row_marginal, col_marginal, num_iters=self.sinkhorn_iters,
                              lam=self.sinkhorn_lambda, is_cost=True, first='rows')

    def _cost(self, x: torch.Tensor, pos: torch.Tensor, centroids: torch.Tensor,
              centroid_pos: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
        """Normalised cost ``(BH, T, K)`` of tokens to live centroids.

        Args:
            x (Tensor): ``(BH, T, d)`` unit tokens.
            pos (Tensor): ``(BH, T, 2)`` token positions.
            centroids (Tensor): ``(BH, K, d)`` (normalised here).
            centroid_pos (Tensor): ``(BH, K, 2)``.
            alive (Tensor): ``(BH, K)`` bool, live columns.

        Returns:
            Tensor: in [0, 1] on live columns, 1 on dead ones.
        """
        semantic = torch.einsum('btd,bkd->btk', x, F.normalize(centroids, dim=-1))
        dist = torch.cdist(pos, centroid_pos)
        live = alive[:, None, :].expand_as(dist)
        dist_max = dist.masked_fill(~live, 0.).amax(dim=(1, 2), keepdim=True)
        cost = -semantic + self.lambda_pos * dist / dist_max.clamp_min(1e-12)
        dims = (0, 1, 2) if self.cost_norm == 'batch' else (1, 2)
        lo = cost.masked_fill(~live, float('inf')).amin(dim=dims, keepdim=True)
        hi = cost.masked_fill(~live, float('-inf')).amax(dim=dims, keepdim=True)
        cost = (cost - lo) / (hi - lo).clamp_min(1e-12)
        return cost.masked_fill(~live, 1.)

    @staticmethod
    def _merge_most_similar(plan: torch.Tensor, x: torch.Tensor,
                            alive: torch.Tensor) -> torch.Tensor:
        """Merge, per item, the two most cosine-similar live clusters.

        Column ``j`` is added to column ``i < j`` of ``plan`` (in place) and
        marked dead in ``alive`` (in place).

        Args:
            plan (Tensor): ``(BH, T, K)``.
            x (Tensor): ``(BH, T, d)`` unit tokens.
            alive (Tensor): ``(BH, K)`` bool.

        Returns:
            Tensor: ``plan`` after the merge.
        """
        mass = plan.sum(dim=1)  # (BH, K)
        centroids = F.normalize(torch.einsum('btd,btk->bkd', x, plan)
                                / mass.clamp_min(1e-30)[..., None], dim=-1)
        sim = torch.einsum('bid,bjd->bij', centroids, centroids)
        num = plan.shape[-1]
        pair_ok = alive[:, :, None] & alive[:, None, :] & ~torch.eye(
            num, dtype=torch.bool, device=plan.device)
        flat = sim.masked_fill(~pair_ok, float('-inf')).flatten(1).argmax(dim=1)
        first, second = flat // num, flat % num
        keep, drop = torch.minimum(first, second), torch.maximum(first, second)
        rows = torch.arange(plan.shape[0], device=plan.device)
        plan[rows, :, keep] += plan[rows, :, drop]
        plan[rows, :, drop] = 0.
        alive[rows, drop] = False
        return plan

    def _centroid_state(self, plan: torch.Tensor, x: torch.Tensor, pos: torch.Tensor,
                        row_marginal: torch.Tensor, alive: torch.Tensor):
        """Centroids, their positions and marginal from a (merged) plan.

        Returns:
            tuple: ``(BH, K, d)`` centroids, ``(BH, K, 2)`` positions and
            ``(BH, K)`` marginal (the token marginal averaged by the
            column-normalised plan, renormalised; 0 on dead columns).
        """
        weights = plan / plan.sum(dim=1, keepdim=True).clamp_min(1e-30)
        centroids = torch.einsum('btd,btk->bkd', x, weights)
        centroid_pos = torch.einsum('btc,btk->bkc', pos, weights)
        if self.uniform_marginals:
            marginal = alive.float()
        else:
            marginal = torch.einsum('bt,btk->bk', row_marginal, weights) * alive
        return centroids, centroid_pos, marginal / marginal.sum(dim=1, keepdim=True)

    # ------------------------------------------------------------------ forward
    @torch.no_grad()
    def forward(self, tokens: torch.Tensor, cls_tokens: torch.Tensor,
                positions: torch.Tensor) -> ClusterAssignment:
        """Cluster the tokens of V views of each image, per head.

        Args:
            tokens (Tensor): ``(B, heads, V, N, d)`` patch tokens (q, k, v or
                last-layer, split per head).
            cls_tokens (Tensor): ``(B, heads, V, d)`` each view's [CLS].
            positions (Tensor): ``(B, V, N, 2)`` patch centres in the
                original image (see :func:`patch_centers`).

        Returns:
            ClusterAssignment: with ``K = num_seeds`` cluster slots.
        """
        batch, heads, views, num, dim = tokens.shape
        items, count = batch * heads, views * num
        x = F.normalize(tokens.float(), dim=-1).reshape(items, count, dim)
        cls = F.normalize(cls_tokens.float(), dim=-1).reshape(items, views, 1, dim)
        relevance = (x.view(items, views, num, dim) * cls).sum(-1).reshape(items, count)
        pos = positions.float()[:, None].expand(batch, heads, views, num, 2).reshape(
            items, count, 2)

        seed_prob = F.softmax(relevance / self.marginal_temperature, dim=1)
        row_marginal = (torch.full_like(seed_prob, 1. / count) if self.uniform_marginals
                        else seed_prob)
        seeds = self._seed(seed_prob)  # (BH, K0)
        centroids = torch.gather(x, 1, seeds[..., None].expand(-1, -1, dim))
        centroid_pos = torch.gather(pos, 1, seeds[..., None].expand(-1, -1, 2))
        alive = torch.ones(items, self.num_seeds, dtype=torch.bool, device=x.device)
        col_marginal = (alive.float() if self.uniform_marginals else F.softmax(
            torch.gather(relevance, 1, seeds) / self.marginal_temperature, dim=1))

        plans, costs = [], []
        for num_clusters in range(self.num_seeds, self.min_clusters - 1, -1):
            cost = self._cost(x, pos, centroids, centroid_pos, alive)
            plan = self.transport(cost, row_marginal, col_marginal)
            plans.append(plan)
            costs.append(transport_cost(plan, cost))
            if num_clusters > self.min_clusters:
                merged = self._merge_most_similar(plan.clone(), x, alive)
                centroids, centroid_pos, col_marginal = self._centroid_state(
                    merged, x, pos, row_marginal, alive)
        costs = torch.stack(costs, dim=1)  # (BH, S), S = K0 - min + 1
        plan, chosen = self._best_plan(torch.stack(plans, dim=1), costs)
        weights, valid = self._assign(plan.view(items, views, num, -1))
        return ClusterAssignment(
            weights=weights.view(batch, heads, views, num, -1),
            valid=valid.view(batch, heads, -1),
            num_clusters=chosen.view(batch, heads),
            costs=costs.view(batch, heads, -1))

    def _best_plan(self, plans: torch.Tensor, costs: torch.Tensor):
        """The plan of lowest cost among the eligible K.

        Args:
            plans (Tensor): ``(BH, S, T, K0)`` plans at K = K0 .. min.
            costs (Tensor): ``(BH, S)``.

        Returns:
            tuple: ``(BH, T, K0)`` plan and ``(BH,)`` its K.
        """
        first = self.num_seeds - self.max_eligible  # index of K = max_eligible
        step = costs[:, first:].argmin(dim=1) + first
        plan = plans[torch.arange(plans.shape[0], device=plans.device), step]
        return plan, self.num_seeds - step

    @staticmethod
    def _assign(plan: torch.Tensor):
        """Arg-max assignment of the per-view, per-cluster normalised plan.

        Args:
            plan (Tensor): ``(BH, V, N, K)``.

        Returns:
            tuple: ``(BH, V, N, K)`` weights (the normalised plan on each
            token's maximal cluster(s), ties within ``TIE_RTOL`` kept, zero
            elsewhere) and
            ``(BH, K)`` bool validity (non-empty in every view).
        """
        normalised = plan / plan.sum(dim=2, keepdim=True).clamp_min(1e-30)
        best = normalised.amax(dim=-1, keepdim=True)
        # ties up to float32 rounding: an exact tie (e.g. a cluster absent from a
        # view normalises to a uniform column there, as does any cluster over
        # identical tokens) must not be broken by the rounding of one Sinkhorn
        # variant, device or process count
        hard = (normalised >= best * (1. - TIE_RTOL)) & (normalised > 0)
        weights = normalised * hard
        valid = hard.any(dim=2).all(dim=1)
        return weights, valid
