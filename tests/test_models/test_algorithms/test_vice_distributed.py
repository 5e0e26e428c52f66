# Copyright (c) mmdense contributors. All rights reserved.
"""ViCE: 2 gloo processes on CPU == 1 process on the concatenated batch.

The Sinkhorn codes are computed over the regions of all ranks (prototype
masses all-reduced) and each rank's loss is normalised by the global region
count, so the ranks' mean loss (what DDP optimises) and the gradients equal
one process's. BatchNorm runs on running statistics (eval mode) so that
per-rank batch statistics stay out of the comparison; the queue is off
(SwAV's queue is per process by design).
"""
import pytest
import torch

from tests.harness.gloo import run_ranks

BATCH = 4  # total; each of the 2 ranks gets 2


def _loss_and_grad(sl: slice = slice(None)):
    from tests.harness.vice_tiny import build_tiny_vice, fake_batch
    model = build_tiny_vice().eval()
    views, samples = fake_batch(BATCH)
    loss = model.loss([v[sl] for v in views], samples[sl])['loss_swav']
    loss.backward()
    return loss.item(), model.prototypes.weight.grad.clone()


def _rank(rank: int, world: int):
    per_rank = BATCH // world
    loss, grad = _loss_and_grad(slice(rank * per_rank, (rank + 1) * per_rank))
    return rank, loss, grad.flatten().tolist()


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process():
    expected, expected_grad = _loss_and_grad()
    results = run_ranks(_rank, 2)
    mean = sum(r[1] for r in results) / 2
    assert abs(mean - expected) < 1e-5 * max(1., abs(expected)), (mean, expected)
    grad = sum(torch.tensor(r[2]) for r in results) / 2  # DDP's gradient average
    assert torch.allclose(grad, expected_grad.flatten(), atol=1e-6)
    # the codes really used the other rank's regions: alone, rank 0 gets another loss
    alone, _ = _loss_and_grad(slice(0, BATCH // 2))
    rank0 = next(r for r in results if r[0] == 0)
    assert abs(alone - rank0[1]) > 1e-4
