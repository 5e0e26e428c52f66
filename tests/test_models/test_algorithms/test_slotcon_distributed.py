# Copyright (c) mmdense contributors. All rights reserved.
"""2 gloo processes on CPU == 1 process on the concatenated batch.

Proves the cross-rank key gather (negatives from other ranks' images, labels
offset by rank) and the all-reduced centre. BatchNorm runs on running stats
(eval mode) so that per-rank batch statistics do not enter the comparison;
SyncBN (the distributed configs' ``sync_bn='torch'``) needs CUDA.
"""
import pytest
import torch

from tests.harness.gloo import run_ranks

BATCH = 4  # total; each of the 2 ranks gets 2


def _single_process(sl: slice = slice(None)):
    from tests.harness.slotcon_tiny import build_tiny_slotcon, fake_batch
    model = build_tiny_slotcon().eval()
    views, samples = fake_batch(BATCH)
    losses = model.loss([v[sl] for v in views], samples[sl])
    return {k: v.item() for k, v in losses.items()}, model.group_loss.center.clone()


def _rank_losses(rank: int, world: int):
    from tests.harness.slotcon_tiny import build_tiny_slotcon, fake_batch
    model = build_tiny_slotcon().eval()
    views, samples = fake_batch(BATCH)
    per_rank = BATCH // world
    sl = slice(rank * per_rank, (rank + 1) * per_rank)
    losses = model.loss([v[sl] for v in views], samples[sl])
    return rank, {k: v.item() for k, v in losses.items()}, model.group_loss.center.flatten().tolist()


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process():
    expected, expected_center = _single_process()
    results = run_ranks(_rank_losses, 2, start_method='spawn')
    # DDP averages the ranks' gradients, so the ranks' mean loss is what is optimised
    for key, value in expected.items():
        mean = sum(r[1][key] for r in results) / 2
        assert abs(mean - value) < 1e-5 * max(1., abs(value)), (key, mean, value)
    for _, _, center in results:
        assert torch.allclose(torch.tensor(center), expected_center.flatten(), atol=1e-6)
    # rank 0 really used rank 1's keys: alone, its two images give another loss
    alone, _ = _single_process(slice(0, BATCH // 2))
    rank0 = next(r for r in results if r[0] == 0)
    assert abs(alone['loss_contrast'] - rank0[1]['loss_contrast']) > 1e-4
