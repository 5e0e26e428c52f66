# Copyright (c) mmdense contributors. All rights reserved.
"""CrOC: 2 gloo processes on CPU == 1 process on the concatenated batch.

The losses (the dense loss divides by the centroid count of all ranks), the
gradients (averaged over ranks, as DDP does), and both centres agree. The
clustering is run with per-(image, head) cost normalisation and top-k
seeding: the released code's per-batch min-max and random seeds depend on
how the batch is split over processes.
"""
import pytest
import torch

from tests.harness.gloo import run_ranks

BATCH = 4  # total; each of the 2 ranks gets 2
CLUSTERING = dict(cost_norm='item', seeding='topk')


def _step(sl: slice):
    from tests.test_models.test_algorithms.croc_tiny import build_tiny_croc, view_pair_batch
    torch.manual_seed(0)
    model = build_tiny_croc(clustering=CLUSTERING)
    views, samples = view_pair_batch(BATCH)
    losses = model.loss([v[sl] for v in views], samples[sl])
    (losses['loss_global'] + losses['loss_dense']).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    centres = [model.global_loss.centering.center.clone(),
               model.dense_loss.centering.center.clone()]
    return {k: v.item() for k, v in losses.items()}, grads, centres


def _rank_step(rank: int, world: int):
    import torch.distributed as dist
    per_rank = BATCH // world
    losses, grads, centres = _step(slice(rank * per_rank, (rank + 1) * per_rank))
    for g in grads.values():  # what DDP does
        dist.all_reduce(g)
        g /= world
    return (rank, losses, {n: g.numpy() for n, g in grads.items()},
            [c.numpy() for c in centres])


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process():
    expected, expected_grads, expected_centres = _step(slice(None))
    results = run_ranks(_rank_step, 2, start_method='spawn')
    for key in ('loss_global', 'loss_dense'):
        mean = sum(r[1][key] for r in results) / 2
        assert abs(mean - expected[key]) < 1e-5 * max(1., abs(expected[key])), key
    for _, _, grads, centres in results:
        assert grads.keys() == expected_grads.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(torch.from_numpy(grad), expected_grads[name],
                                       atol=1e-6, rtol=1e-4, msg=name)
        for centre, ref in zip(centres, expected_centres):
            torch.testing.assert_close(torch.from_numpy(centre), ref, atol=1e-6, rtol=1e-5)
    # the ranks' centroid counts differ, so a per-rank mean would not match
    counts = [r[1]['num_centroids'] for r in results]
    assert counts[0] != counts[1] or expected['num_centroids'] == counts[0]
