# Copyright (c) mmdense contributors. All rights reserved.
import pytest
import torch

from mmdense.models.utils import sinkhorn as sinkhorn_module
from mmdense.models.utils import sinkhorn_knopp, transport_cost


def _linear_sinkhorn(cost, r, c, lam, num_iters):
    """CrOC's linear-domain recipe: exp(-lam M), sum 1, rows to r, cols to c."""
    plan = torch.exp(-lam * cost.double())
    plan = plan / plan.sum(dim=(-2, -1), keepdim=True)
    for _ in range(num_iters):
        plan = plan * (r.double() / plan.sum(-1))[..., None]
        plan = plan * (c.double() / plan.sum(-2))[..., None, :]
    return plan


def _croc_problem(batch=3, rows=10, cols=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    cost = torch.rand(batch, rows, cols, generator=gen)
    r = torch.softmax(torch.randn(batch, rows, generator=gen), dim=1)
    c = torch.softmax(torch.randn(batch, cols, generator=gen), dim=1)
    return cost, r, c


def test_croc_marginals_batched_non_uniform():
    cost, r, c = _croc_problem()
    plan = sinkhorn_knopp(cost, r, c, num_iters=200, lam=5., is_cost=True, first='rows')
    assert plan.shape == cost.shape
    torch.testing.assert_close(plan.sum(-2), c, atol=1e-4, rtol=0)  # exact: last step
    torch.testing.assert_close(plan.sum(-1), r, atol=1e-4, rtol=0)  # converged
    # each batch item is its own problem
    single = sinkhorn_knopp(cost[1], r[1], c[1], num_iters=200, lam=5., is_cost=True)
    torch.testing.assert_close(plan[1], single, atol=1e-6, rtol=1e-5)


def test_croc_matches_linear_domain_recipe():
    cost, r, c = _croc_problem(seed=1)
    plan = sinkhorn_knopp(cost, r, c, num_iters=5, lam=20., is_cost=True, first='rows')
    ref = _linear_sinkhorn(cost, r, c, 20., 5).float()
    torch.testing.assert_close(plan, ref, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(plan.sum(-2), c, atol=1e-5, rtol=0)
    # marginals are only weights: scaling them changes nothing
    torch.testing.assert_close(
        sinkhorn_knopp(cost, 3 * r, 7 * c, num_iters=5, lam=20., is_cost=True), plan)
    # epsilon and lam are the same knob
    torch.testing.assert_close(
        sinkhorn_knopp(cost, r, c, num_iters=5, epsilon=1 / 20., is_cost=True), plan)


def test_cols_first_and_uniform():
    cost, _, _ = _croc_problem(seed=2)
    plan = sinkhorn_knopp(-cost, num_iters=300, epsilon=0.2, first='cols')
    rows, cols = cost.shape[1:]
    torch.testing.assert_close(plan.sum(-1), torch.full((3, rows), 1. / rows), atol=1e-6, rtol=0)
    torch.testing.assert_close(plan.sum(-2), torch.full((3, cols), 1. / cols), atol=1e-4, rtol=0)


def test_log_domain_stable_for_extreme_temperatures():
    cost, r, c = _croc_problem(seed=3)
    plan = sinkhorn_knopp(cost, r, c, num_iters=5, lam=5000., is_cost=True)
    assert torch.isfinite(plan).all()
    torch.testing.assert_close(plan.sum(-2), c, atol=1e-5, rtol=0)
    scores = torch.randn(16, 8) * 10
    q = sinkhorn_knopp(scores, num_iters=3, epsilon=1e-4, first='cols', return_assignments=True)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q.sum(-1), torch.ones(16), atol=1e-5, rtol=0)
    # linear-domain exp overflows here; the log domain does not
    assert not torch.isfinite(torch.exp(scores / 1e-4)).all()
    # fp16 input is computed in fp32
    assert sinkhorn_knopp(scores.half(), epsilon=1e-3).dtype == torch.float32


def test_zero_marginal_gives_empty_row_without_nan():
    cost, r, c = _croc_problem(batch=1, seed=4)
    r[0, 3] = 0
    plan = sinkhorn_knopp(cost, r, c, num_iters=5, lam=20., is_cost=True)
    assert torch.isfinite(plan).all()
    assert plan[0, 3].abs().max() == 0


def test_swav_mode_equals_mmpretrain():
    swav_loss = pytest.importorskip('mmpretrain.models.losses.swav_loss')
    gen = torch.Generator().manual_seed(5)
    scores = torch.nn.functional.normalize(torch.randn(24, 10, generator=gen), dim=1)
    ref = swav_loss.distributed_sinkhorn(scores.clone(), 3, 1, 0.05)
    ours = sinkhorn_knopp(scores, num_iters=3, epsilon=0.05, first='cols',
                          return_assignments=True, distributed=True)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_distributed_switch_sums_over_ranks(monkeypatch):
    """Two identical fake ranks == the single-process problem on the stacked rows."""
    calls = []

    def fake_sum(t):
        calls.append('sum')
        return 2 * t

    monkeypatch.setattr(sinkhorn_module, 'all_reduce_sum', fake_sum)
    monkeypatch.setattr(sinkhorn_module, 'all_reduce_max', lambda t: t)
    scores = torch.randn(6, 5, generator=torch.Generator().manual_seed(6))
    kwargs = dict(num_iters=3, epsilon=0.05, first='cols', return_assignments=True)
    local = sinkhorn_knopp(scores, distributed=True, **kwargs)
    assert calls
    stacked = sinkhorn_knopp(torch.cat([scores, scores]), distributed=False, **kwargs)
    torch.testing.assert_close(local, stacked[:6], atol=1e-6, rtol=1e-5)
    calls.clear()
    sinkhorn_knopp(scores, distributed=False, **kwargs)
    assert not calls


def test_transport_cost_and_argument_checks():
    cost, r, c = _croc_problem(seed=7)
    plan = sinkhorn_knopp(cost, r, c, num_iters=5, lam=20., is_cost=True)
    d = transport_cost(plan, cost)
    assert d.shape == (3, )
    torch.testing.assert_close(d, torch.einsum('nrc,nrc->n', plan, cost))
    with pytest.raises(ValueError):
        sinkhorn_knopp(cost, epsilon=0.1, lam=10.)
    with pytest.raises(ValueError):
        sinkhorn_knopp(cost, first='both')
    with pytest.raises(ValueError):
        sinkhorn_knopp(cost, row_marginals=torch.ones(3, 4))


@pytest.mark.parametrize('first', ['rows', 'cols'])
@pytest.mark.parametrize('assignments', [False, True])
def test_linear_domain_equals_log_domain(first, assignments):
    """The CPU fast path: same plan as the log domain, zero marginals included."""
    cost, r, c = _croc_problem(batch=4, rows=12, cols=5, seed=5)
    r[0, 3] = 0.  # an empty row
    c[1, 2] = 0.  # a dead cluster
    kwargs = dict(num_iters=5, lam=20., is_cost=True, first=first, return_assignments=assignments)
    log = sinkhorn_knopp(cost, r, c, domain='log', **kwargs)
    for domain in ('linear', 'auto'):
        torch.testing.assert_close(sinkhorn_knopp(cost, r, c, domain=domain, **kwargs), log,
                                   atol=1e-7, rtol=1e-5)
    linear = sinkhorn_knopp(cost, r, c, domain='linear', **kwargs)
    assert linear[1, :, 2].abs().sum() == 0 and linear[0, 3].abs().sum() == 0
    assert torch.isfinite(linear).all()
    assert sinkhorn_knopp(cost.double(), r, c, domain='linear', **kwargs).dtype == torch.float64


def test_auto_domain_keeps_wide_kernels_and_distributed_rows_in_the_log_domain(monkeypatch):
    calls = []
    real = sinkhorn_module._linear_plan
    monkeypatch.setattr(sinkhorn_module, '_linear_plan',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    cost, r, c = _croc_problem(seed=6)
    sinkhorn_knopp(cost, r, c, lam=20., is_cost=True)  # range <= 20: linear
    assert len(calls) == 1
    sinkhorn_knopp(cost, r, c, lam=40., is_cost=True)  # range up to 40: log
    sinkhorn_knopp(cost, r, c, lam=20., is_cost=True, distributed=True)
    assert len(calls) == 1
    # a wide kernel stays exact in the log domain (linear, it would underflow)
    wide = sinkhorn_knopp(cost, r, c, num_iters=50, epsilon=1e-3, is_cost=True)
    torch.testing.assert_close(wide.sum(-2), c, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='domain'):
        sinkhorn_knopp(cost, domain='exp')
    with pytest.raises(ValueError, match='distributed'):
        sinkhorn_knopp(cost, domain='linear', distributed=True)
