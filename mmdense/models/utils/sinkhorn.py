# Copyright (c) mmdense contributors. All rights reserved.
"""Batched, log-domain Sinkhorn-Knopp with explicit marginals.

Hand-written because no maintained dependency has the variant mmdense needs:
mmpretrain's ``distributed_sinkhorn`` (SwAV) supports only uniform marginals,
one unbatched matrix and exponentiates in the linear domain (overflows for a
small epsilon); CrOC needs two non-uniform marginals, batched over
``images x heads``; POT is not a dependency and is not batched on the GPU.

One function serves both users:

- **CrOC** (cost ``M`` in ``[0, 1]`` of tokens x centroids, ``lambda = 20``):
  ``sinkhorn_knopp(M, r, c, num_iters=5, lam=20., is_cost=True,
  first='rows')``, i.e. ``P = exp(-lambda M)`` scaled alternately so its rows
  sum to ``r`` and then its columns to ``c``.
- **SwAV / ViCE** (scores of samples x prototypes, ``epsilon = 0.05``):
  ``sinkhorn_knopp(scores, num_iters=3, epsilon=0.05, first='cols',
  return_assignments=True, distributed=True)``, i.e. ``Q = exp(scores / eps)``
  with uniform marginals, the prototype (column) scaling first, the samples
  (rows) optionally spread over all ranks; in one process it equals
  mmpretrain's ``distributed_sinkhorn`` (which works on the transpose). With
  several ranks it sums the prototype masses over ranks in every iteration,
  as the original SwAV code does; mmpretrain 1.2.0 all-reduces them only in
  its ``u == 0`` fallback branch, so there its ranks disagree.

All scalings are done on the log of the plan with :func:`torch.logsumexp`,
so ``exp`` of large ``lambda * M`` or ``score / eps`` never overflows. When
the kernel's log-range is small (``scale * (max - min) <= 30``, e.g. CrOC's
cost in [0, 1] at lambda 20), the rows are not split over ranks and the
tensor is on the CPU, the same iterations run on the plan itself
(``domain='auto'``): one ``exp`` in all instead of two ``logsumexp`` per
iteration (CrOC's clustering calls it K_start - 1 times per step, and runs
1.7-2.3x faster for it on CPU); the result equals the log-domain one to
float32 rounding.
"""
import math
from typing import Optional

import torch

from .dist import all_reduce_max, all_reduce_sum

_FIRST_CHOICES = ('rows', 'cols')
_DOMAINS = ('auto', 'log', 'linear')
#: largest log-range of the kernel that ``domain='auto'`` runs in the linear domain
LINEAR_MAX_LOG_RANGE = 30.


def _log_marginal(marginals: Optional[torch.Tensor], batch: int, size: int, like: torch.Tensor,
                  distributed: bool) -> torch.Tensor:
    """Log of marginals normalised to total mass 1, shaped ``(N, size)``.

    Args:
        marginals (Tensor, optional): ``(N, size)`` or ``(size,)`` non-negative
            weights; ``None`` for uniform.
        batch (int): N.
        size (int): number of entries on this side (on this rank).
        like (Tensor): gives dtype and device.
        distributed (bool): this side is split over ranks; the mass (and
            the count, for uniform marginals) is summed over them.

    Returns:
        Tensor: ``(N, size)`` log-marginals (``-inf`` for zero weights).
    """
    if marginals is None:
        count = like.new_full((1, 1), float(size))
        if distributed:
            count = all_reduce_sum(count)
        return (-count.log()).expand(batch, size)
    marginals = marginals.to(device=like.device, dtype=like.dtype)
    marginals = marginals.expand(batch, size) if marginals.dim() == 1 else marginals
    if marginals.shape != (batch, size):
        raise ValueError(f'sinkhorn_knopp: marginals must be ({batch}, {size}) or ({size},), '
                         f'got {tuple(marginals.shape)}')
    total = marginals.sum(dim=1, keepdim=True)
    if distributed:
        total = all_reduce_sum(total)
    return marginals.log() - total.log()


def _global_logsumexp(x: torch.Tensor, dim: int, distributed: bool) -> torch.Tensor:
    """``logsumexp`` over ``dim``, summed over ranks when ``distributed``.

    Args:
        x (Tensor): ``(N, R, C)`` log-values.
        dim (int): the reduced dimension (the one split over ranks).
        distributed (bool): combine the per-rank results.

    Returns:
        Tensor: ``x`` reduced over ``dim`` (kept as size 1).
    """
    local = torch.logsumexp(x, dim=dim, keepdim=True)
    if not distributed:
        return local
    peak = all_reduce_max(local)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    return peak + all_reduce_sum((local - peak).exp()).log()


def _rescale(log_plan: torch.Tensor, log_sums: torch.Tensor,
             log_target: torch.Tensor) -> torch.Tensor:
    """Scale rows or columns of a log-plan from their sums to the target.

    An all-zero row/column (``log_sums = -inf``) is left as it is, which
    keeps ``-inf + inf = nan`` out.

    Args:
        log_plan (Tensor): ``(N, R, C)``.
        log_sums (Tensor): ``(N, R, 1)`` or ``(N, 1, C)`` current log-sums.
        log_target (Tensor): broadcastable target log-marginals.

    Returns:
        Tensor: ``(N, R, C)``.
    """
    shift = torch.where(torch.isfinite(log_sums), log_target - log_sums,
                        torch.zeros_like(log_sums))
    return log_plan + shift


@torch.no_grad()
def sinkhorn_knopp(inputs: torch.Tensor,
                   row_marginals: Optional[torch.Tensor] = None,
                   col_marginals: Optional[torch.Tensor] = None,
                   num_iters: int = 3,
                   epsilon: Optional[float] = None,
                   lam: Optional[float] = None,
                   is_cost: bool = False,
                   first: str = 'rows',
                   return_assignments: bool = False,
                   distributed: bool = False,
                   domain: str = 'auto') -> torch.Tensor:
    """Entropic optimal transport plan by Sinkhorn-Knopp.

    The kernel is ``K = exp(inputs / epsilon)`` for scores (``is_cost=False``)
    or ``K = exp(-inputs / epsilon)`` for a cost (``is_cost=True``);
    ``lam = 1 / epsilon`` may be given instead of ``epsilon`` (CrOC's
    ``lambda``). ``K`` is first normalised to total mass 1, then each of
    ``num_iters`` iterations scales it so its rows sum to ``row_marginals``
    and its columns to ``col_marginals``, in the order set by ``first`` (the
    last scaling holds exactly, the other approximately).

    Marginal convention: both are non-negative weights normalised here to sum
    to 1 per batch item (pass probabilities, e.g. CrOC's softmaxes, or any
    positive weights); ``None`` means uniform (``1 / R`` per row, ``1 / C``
    per column). The plan therefore has total mass 1 per batch item.

    With ``distributed=True`` the rows of ``inputs`` are this rank's share of
    a matrix split row-wise over all ranks (SwAV: samples x prototypes): the
    initial mass, the column sums and the row count / row-marginal total are
    summed over ranks with :func:`all_reduce_sum` (identity in one process).
    Every rank must call with the same ``C`` and batch size ``N``.

    Args:
        inputs (Tensor): ``(N, R, C)`` or ``(R, C)`` scores or costs.
        row_marginals (Tensor, optional): ``(N, R)`` or ``(R,)``.
        col_marginals (Tensor, optional): ``(N, C)`` or ``(C,)``.
        num_iters (int): Sinkhorn iterations (each = one row + one column
            scaling). CrOC 5, SwAV 3.
        epsilon (float, optional): entropic temperature (SwAV 0.05). Defaults
            to 0.05 when neither ``epsilon`` nor ``lam`` is given.
        lam (float, optional): ``1 / epsilon`` (CrOC 20); exclusive with
            ``epsilon``.
        is_cost (bool): ``inputs`` is a cost (lower = better match).
        first (str): ``'rows'`` (CrOC: rows to ``r``, then columns to ``c``)
            or ``'cols'`` (SwAV with samples as rows: prototypes first).
        return_assignments (bool): divide each row by its row marginal, so
            rows become per-row distributions over the columns summing to
            about 1 (exactly 1 when ``first='cols'``): SwAV's codes ``q``.
        distributed (bool): rows are split over ranks (see above).
        domain (str): ``'log'`` (scalings on the log-plan: any temperature),
            ``'linear'`` (on the plan: the caller guarantees a small kernel
            range) or ``'auto'``: linear for CPU tensors, not
            ``distributed``, with ``scale * (max - min) <= LINEAR_MAX_LOG_RANGE``
            over ``inputs``; else log (on a GPU the log domain is cheap and
            the range test would synchronise).

    Returns:
        Tensor: the plan (or assignments), shaped like ``inputs``; float32
        (float64 for float64 inputs); no gradient.
    """
    if first not in _FIRST_CHOICES:
        raise ValueError(f'sinkhorn_knopp: first must be one of {_FIRST_CHOICES}, got {first!r}')
    if epsilon is not None and lam is not None:
        raise ValueError('sinkhorn_knopp: give either epsilon or lam (= 1 / epsilon), not both')
    if inputs.dim() not in (2, 3):
        raise ValueError(f'sinkhorn_knopp: inputs must be (R, C) or (N, R, C), '
                         f'got {tuple(inputs.shape)}')
    if domain not in _DOMAINS:
        raise ValueError(f'sinkhorn_knopp: domain must be one of {_DOMAINS}, got {domain!r}')
    if domain == 'linear' and distributed:
        raise ValueError("sinkhorn_knopp: domain='linear' does not support distributed rows")
    scale = float(lam) if lam is not None else 1. / (0.05 if epsilon is None else float(epsilon))
    unbatched = inputs.dim() == 2
    x = inputs[None] if unbatched else inputs
    x = x.double() if x.dtype == torch.float64 else x.float()
    batch, rows, cols = x.shape
    log_k = x * (-scale if is_cost else scale)
    if domain == 'auto':  # the range test reads a value: CPU only (no GPU sync)
        narrow = (x.device.type == 'cpu' and x.numel() > 0 and not distributed
                  and scale * float(x.amax() - x.amin()) <= LINEAR_MAX_LOG_RANGE)
        domain = 'linear' if narrow else 'log'
    if domain == 'linear':
        plan = _linear_plan(log_k, row_marginals, col_marginals, num_iters, first,
                            return_assignments)
        return plan[0] if unbatched else plan
    log_r = _log_marginal(row_marginals, batch, rows, log_k, distributed)[:, :, None]
    log_c = _log_marginal(col_marginals, batch, cols, log_k, False)[:, None, :]

    # Normalise to total mass 1 (only matters for num_iters == 0), then scale
    # the log-plan itself: folding each correction into it (rather than
    # keeping separate potentials) keeps its dominant entries near 0, so the
    # marginals hold to float32 rounding even when |inputs / epsilon| ~ 1e5.
    log_plan = _rescale(log_k, _global_logsumexp(
        torch.logsumexp(log_k, dim=2, keepdim=True), 1, distributed), log_k.new_zeros(()))
    for _ in range(num_iters):
        if first == 'rows':
            log_plan = _rescale(log_plan, torch.logsumexp(log_plan, 2, keepdim=True), log_r)
            log_plan = _rescale(log_plan, _global_logsumexp(log_plan, 1, distributed), log_c)
        else:
            log_plan = _rescale(log_plan, _global_logsumexp(log_plan, 1, distributed), log_c)
            log_plan = _rescale(log_plan, torch.logsumexp(log_plan, 2, keepdim=True), log_r)
    if return_assignments:
        log_plan = torch.where(torch.isfinite(log_r), log_plan - log_r,
                               torch.full_like(log_plan, -math.inf))
    plan = log_plan.exp()
    return plan[0] if unbatched else plan


def _linear_plan(log_k: torch.Tensor, row_marginals: Optional[torch.Tensor],
                 col_marginals: Optional[torch.Tensor], num_iters: int, first: str,
                 return_assignments: bool) -> torch.Tensor:
    """:func:`sinkhorn_knopp`'s iterations on the plan itself (one process).

    Only for kernels whose log-range is small enough that ``exp`` of the
    log-kernel shifted by its maximum stays far from underflow. The marginal
    conventions are the log domain's: zero weights give empty rows /
    columns, an all-zero row or column is left as it is.

    Args:
        log_k (Tensor): ``(N, R, C)`` log-kernel.
        row_marginals (Tensor, optional): as in :func:`sinkhorn_knopp`.
        col_marginals (Tensor, optional): as in :func:`sinkhorn_knopp`.
        num_iters (int): as in :func:`sinkhorn_knopp`.
        first (str): as in :func:`sinkhorn_knopp`.
        return_assignments (bool): as in :func:`sinkhorn_knopp`.

    Returns:
        Tensor: ``(N, R, C)`` plan (or assignments).
    """
    batch, rows, cols = log_k.shape
    r = _log_marginal(row_marginals, batch, rows, log_k, False).exp()[:, :, None]
    c = _log_marginal(col_marginals, batch, cols, log_k, False).exp()[:, None, :]
    plan = (log_k - log_k.amax(dim=(1, 2), keepdim=True)).exp()
    plan = plan / plan.sum(dim=(1, 2), keepdim=True)

    def scaled(plan: torch.Tensor, dim: int, target: torch.Tensor) -> torch.Tensor:
        sums = plan.sum(dim=dim, keepdim=True)
        return plan * torch.where(sums > 0, target / sums, torch.ones_like(sums))

    for _ in range(num_iters):
        if first == 'rows':
            plan = scaled(scaled(plan, 2, r), 1, c)
        else:
            plan = scaled(scaled(plan, 1, c), 2, r)
    if return_assignments:
        plan = torch.where(r > 0, plan / r, torch.zeros_like(plan))
    return plan


def transport_cost(plan: torch.Tensor, cost: torch.Tensor) -> torch.Tensor:
    """Frobenius product ``<P, M> = sum_ij P_ij M_ij`` per batch item.

    Args:
        plan (Tensor): ``(..., R, C)`` transport plan.
        cost (Tensor): ``(..., R, C)`` cost matrix (broadcastable).

    Returns:
        Tensor: ``(...)`` total cost of each plan.
    """
    return (plan * cost).sum(dim=(-2, -1))
