# Copyright (c) mmdense contributors. All rights reserved.
"""MaskContrast: 2 gloo processes on CPU == 1 process on the concatenated batch.

Proves the cross-rank prototype gather (every rank's pixels see all images'
prototypes as negatives, targets offset by rank), the global pixel count of
the loss, and the queue, which every rank fills with the same gathered
prototypes. BatchNorm runs on running statistics (eval mode) so that
per-rank batch statistics do not enter the comparison.
"""
import pytest
import torch

from tests.harness.gloo import run_ranks

BATCH = 4  # total; each of the 2 ranks gets 2


def _run(sl: slice):
    from tests.harness.maskcontrast_tiny import build_tiny_maskcontrast, fake_batch
    model = build_tiny_maskcontrast().eval()
    views, samples = fake_batch(BATCH)
    losses = model.loss([v[sl] for v in views], samples[sl])
    return ({k: v.item() for k, v in losses.items()}, model.queue.queue.clone(),
            int(model.queue.ptr))


def _rank_losses(rank: int, world: int):
    per_rank = BATCH // world
    losses, queue, ptr = _run(slice(rank * per_rank, (rank + 1) * per_rank))
    return rank, losses, queue.numpy(), ptr


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process():
    expected, expected_queue, expected_ptr = _run(slice(None))
    results = run_ranks(_rank_losses, 2, start_method='spawn')
    # DDP averages the ranks' gradients: the ranks' mean contrast loss is the optimised one
    mean = sum(r[1]['loss_contrast'] for r in results) / 2
    assert abs(mean - expected['loss_contrast']) < 1e-5 * max(1., expected['loss_contrast'])
    for _, _, queue, ptr in results:
        assert ptr == expected_ptr
        assert torch.allclose(torch.from_numpy(queue), expected_queue, atol=1e-6)
    # rank 0 really used rank 1's prototypes: alone, its two images give another loss
    alone, _, _ = _run(slice(0, BATCH // 2))
    rank0 = next(r for r in results if r[0] == 0)
    assert abs(alone['loss_contrast'] - rank0[1]['loss_contrast']) > 1e-4
