# Copyright (c) mmdense contributors. All rights reserved.
"""CrOC's cross-view online clustering on planted tokens, without the model."""
import pytest
import torch

from mmdense.models.utils import CrossViewOnlineClustering

SIDE = 6  # patch grid of each view: SIDE x SIDE tokens


def grid_positions(batch: int, views: int = 2, side: int = SIDE) -> torch.Tensor:
    """``(B, V, N, 2)`` patch centres of an unflipped full-image view (16 px patches)."""
    ys, xs = torch.meshgrid(torch.arange(side) + .5, torch.arange(side) + .5, indexing='ij')
    pos = torch.stack([xs, ys], -1).reshape(1, 1, side * side, 2) * 16
    return pos.expand(batch, views, -1, -1).clone()


def planted_tokens(column_dirs, batch=2, heads=2, dim=8, noise=0.02, seed=0):
    """Tokens whose direction depends on the grid column only, same in both views.

    Args:
        column_dirs (list[Tensor]): per column, a ``(dim,)`` direction.

    Returns:
        tuple: tokens ``(B, H, 2, N, dim)``, [CLS] ``(B, H, 2, dim)``,
        positions ``(B, 2, N, 2)``, column of each token ``(N,)``.
    """
    gen = torch.Generator().manual_seed(seed)
    cols = torch.arange(SIDE * SIDE) % SIDE
    base = torch.stack([column_dirs[c] for c in cols.tolist()])
    tokens = base.expand(batch, heads, 2, -1, -1) + noise * torch.randn(
        batch, heads, 2, SIDE * SIDE, dim, generator=gen)
    cls = torch.ones(batch, heads, 2, dim)
    return tokens, cls, grid_positions(batch), cols


def unit(i: int, dim: int = 8) -> torch.Tensor:
    v = torch.zeros(dim)
    v[i] = 1.
    return v


def labels(out) -> torch.Tensor:
    """``(B, H, V, N)`` cluster id of every token."""
    return out.weights.argmax(-1)


def test_sinkhorn_plan_meets_both_marginals():
    clustering = CrossViewOnlineClustering(num_seeds=5, sinkhorn_iters=300)
    gen = torch.Generator().manual_seed(0)
    cost = torch.rand(6, 40, 5, generator=gen)
    rows = torch.softmax(torch.randn(6, 40, generator=gen), 1)
    cols = torch.softmax(torch.randn(6, 5, generator=gen), 1)
    plan = clustering.transport(cost, rows, cols)
    torch.testing.assert_close(plan.sum(1), cols, atol=1e-4, rtol=0)
    torch.testing.assert_close(plan.sum(2), rows, atol=1e-4, rtol=0)
    # a dead cluster (zero marginal) receives nothing, the others still add up
    cols[:, 2] = 0.
    plan = clustering.transport(cost, rows, cols / cols.sum(1, keepdim=True))
    assert plan[..., 2].abs().max() == 0
    torch.testing.assert_close(plan.sum((1, 2)), torch.ones(6), atol=1e-4, rtol=0)


@pytest.mark.parametrize('seed', range(4))
def test_two_planted_groups_are_recovered_with_k_2(seed):
    torch.manual_seed(seed)  # seeding draws
    dirs = [unit(0)] * (SIDE // 2) + [unit(1)] * (SIDE // 2)
    tokens, cls, pos, cols = planted_tokens(dirs, seed=seed)
    clustering = CrossViewOnlineClustering(num_seeds=3, lambda_pos=0., sinkhorn_iters=50)
    out = clustering(tokens, cls, pos)
    assert out.num_clusters.eq(2).all()
    assert out.costs.shape == (2, 2, 2)  # K = 3, 2
    lab = labels(out)
    left = cols < SIDE // 2
    for b in range(2):
        for h in range(2):
            left_ids, right_ids = lab[b, h][:, left].unique(), lab[b, h][:, ~left].unique()
            assert left_ids.numel() == 1 and right_ids.numel() == 1 and left_ids != right_ids
            # both clusters present in both views: both valid
            assert out.valid[b, h, left_ids] and out.valid[b, h, right_ids]
            assert out.valid[b, h].sum() == 2


def neighbour_agreement(lab: torch.Tensor) -> float:
    """Fraction of 4-neighbour token pairs of the grid with the same cluster."""
    grid = lab.unflatten(-1, (SIDE, SIDE))
    same = torch.cat([(grid[..., :, 1:] == grid[..., :, :-1]).flatten(),
                      (grid[..., 1:, :] == grid[..., :-1, :]).flatten()])
    return same.float().mean().item()


def test_positional_cost_joins_adjacent_ambiguous_tokens():
    """Semantically ambiguous tokens (all alike): without the positional cost
    the clusters are a random half of the tokens; with it, a cluster is a
    spatially compact region (K = 2: two halves split by one line, about 90 %
    of neighbouring pairs agree), the same in both views."""
    gen = torch.Generator().manual_seed(0)
    tokens = torch.ones(4, 2, 2, SIDE * SIDE, 8) + 0.05 * torch.randn(
        4, 2, 2, SIDE * SIDE, 8, generator=gen)
    cls = torch.randn(4, 2, 2, 8, generator=gen)
    agreement = {}
    for lambda_pos in (0., 4.):
        torch.manual_seed(0)
        clustering = CrossViewOnlineClustering(num_seeds=4, max_eligible=2, lambda_pos=lambda_pos)
        agreement[lambda_pos] = neighbour_agreement(labels(clustering(tokens, cls,
                                                                      grid_positions(4))))
    assert agreement[4.] > 0.8 and agreement[0.] < 0.65


def test_a_cluster_absent_from_one_view_is_pruned():
    """A plan whose cluster 1 holds tokens of view 1 only: cluster 1 is
    invalid; clusters 0 and 2 (both views) stay; a dead cluster is invalid."""
    plan = torch.zeros(1, 2, 4, 4)  # (items, views, tokens, K)
    plan[0, 0, :2, 0] = plan[0, 1, :2, 0] = 1.  # cluster 0: both views
    plan[0, 0, 2:, 1] = 1.  # cluster 1: view 1 only
    plan[0, 1, 2:, 2] = 1.  # cluster 2: view 2, and spread thinly over view 1
    plan[0, 0, :, 2] = .5  # (normalised per view and cluster: 1/4 < 1/2 everywhere)
    weights, valid = CrossViewOnlineClustering._assign(plan)
    assert valid.tolist() == [[True, False, False, False]]
    assert (weights[0, 0, :, 2] == 0).all()  # weights only on each token's arg-max
    plan[0, 0, :, 2] = 0.
    plan[0, 0, 3, 2] = 1.  # now view 1's last token prefers cluster 2 (1 > 1/2)
    weights, valid = CrossViewOnlineClustering._assign(plan)
    assert valid.tolist() == [[True, False, True, False]]
    assert weights[0, 0, 3, 1] == 0 and weights[0, 0, 3, 2] == 1


def test_one_view_group_gets_a_pruned_cluster_end_to_end():
    """View 1 shows groups A | B, view 2 A | C (K = 3, no merges): wherever
    group B gets its own cluster, that cluster is invalid; validity =
    presence in both views.

    In view 2 B's per-view normalised column is uniform (every token there is
    as far from B) while A's and C's hold their own half, so B loses every
    token there by a factor of 2. (With view 2 all A, every cluster's column
    would be uniform there: an exact tie, kept, so nothing would be pruned.)
    """
    torch.manual_seed(0)
    dirs = [unit(0)] * (SIDE // 2) + [unit(1)] * (SIDE // 2)
    tokens, cls, pos, cols = planted_tokens(dirs, batch=8, noise=0.)
    right = cols >= SIDE // 2
    tokens[:, :, 1, right] = unit(2)  # view 2: group C where view 1 has B
    out = CrossViewOnlineClustering(num_seeds=3, min_clusters=3, lambda_pos=0.)(tokens, cls, pos)
    lab = labels(out)
    separated = 0
    for b in range(8):
        for h in range(2):
            b_ids = lab[b, h, 0, right].unique()
            if b_ids.numel() == 1 and not (lab[b, h, 1] == b_ids).any():
                separated += 1
                assert not out.valid[b, h, b_ids]
    assert separated >= 3
    present = out.weights.sum(3) > 0  # (B, H, V, K)
    assert torch.equal(out.valid, present.all(2))


def test_batched_items_equal_one_by_one():
    """No cross-talk between (image, head) items with per-item normalisation."""
    gen = torch.Generator().manual_seed(1)
    tokens = torch.randn(3, 2, 2, SIDE * SIDE, 8, generator=gen)
    cls = torch.randn(3, 2, 2, 8, generator=gen)
    pos = grid_positions(3) + torch.rand(3, 2, SIDE * SIDE, 2, generator=gen)
    clustering = CrossViewOnlineClustering(num_seeds=5, cost_norm='item', seeding='topk')
    full = clustering(tokens, cls, pos)
    for b in range(3):
        one = clustering(tokens[b:b + 1], cls[b:b + 1], pos[b:b + 1])
        torch.testing.assert_close(one.weights[0], full.weights[b])
        assert torch.equal(one.valid[0], full.valid[b])
        assert torch.equal(one.num_clusters[0], full.num_clusters[b])


def test_eligible_k_and_hard_assignment():
    gen = torch.Generator().manual_seed(2)
    tokens = torch.randn(2, 3, 2, SIDE * SIDE, 8, generator=gen)
    cls = torch.randn(2, 3, 2, 8, generator=gen)
    clustering = CrossViewOnlineClustering(num_seeds=5, max_eligible=4)
    out = clustering(tokens, cls, grid_positions(2))
    assert out.weights.shape == (2, 3, 2, SIDE * SIDE, 5)
    assert ((out.num_clusters >= 2) & (out.num_clusters <= 4)).all()
    # the chosen K has the lowest cost among K = 4, 3, 2 (costs are stored for K = 5 .. 2)
    best = out.costs[..., 1:].argmin(-1)
    assert torch.equal(out.num_clusters, 4 - best)
    # every token has exactly one (or tied) cluster, at most K of the 5 slots are used
    assert ((out.weights > 0).sum(-1) >= 1).all()
    used = (out.weights > 0).flatten(2, 3).any(2).sum(-1)
    assert (used <= out.num_clusters).all()


@pytest.mark.parametrize('kwargs', [dict(num_seeds=3, max_eligible=4), dict(min_clusters=0),
                                    dict(cost_norm='image'), dict(seeding='kmeans++')])
def test_invalid_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        CrossViewOnlineClustering(**kwargs)
