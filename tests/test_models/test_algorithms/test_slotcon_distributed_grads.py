# Copyright (c) mmdense contributors. All rights reserved.
"""Beyond tests/test_models/test_slotcon_distributed.py (losses and centre):
the *gradients* DDP averages over 2 gloo ranks equal the gradients of one
process on the concatenated batch, for every student parameter."""
import pytest
import torch
import torch.distributed as torch_dist

from tests.harness.gloo import run_ranks

BATCH = 4


def _grads(model, views, samples):
    losses = model.loss(views, samples)
    sum(losses.values()).backward()
    return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def _rank_grads(rank: int, world: int):
    from tests.harness.slotcon_tiny import build_tiny_slotcon, fake_batch
    model = build_tiny_slotcon().eval()
    views, samples = fake_batch(BATCH)
    per = BATCH // world
    sl = slice(rank * per, (rank + 1) * per)
    grads = _grads(model, [v[sl] for v in views], samples[sl])
    for g in grads.values():  # what DDP does: average over ranks
        torch_dist.all_reduce(g)
        g /= world
    return {k: g.numpy() for k, g in grads.items()}


@pytest.mark.slow
def test_ddp_gradients_match_one_process():
    from tests.harness.slotcon_tiny import build_tiny_slotcon, fake_batch
    model = build_tiny_slotcon().eval()
    views, samples = fake_batch(BATCH)
    expected = _grads(model, views, samples)
    assert len(expected) > 10 and any(k.startswith('predictor') for k in expected)
    results = run_ranks(_rank_grads, 2)  # fork: the children share this process's imports
    for rank, grads in enumerate(results):
        assert grads.keys() == expected.keys()
        for k, g in grads.items():
            ref = expected[k]
            scale = ref.abs().max().item() + 1e-12
            diff = (torch.from_numpy(g) - ref).abs().max().item()
            assert diff <= 1e-4 * scale + 1e-7, (rank, k, diff, scale)
