# Copyright (c) mmdense contributors. All rights reserved.
"""Beyond tests/test_models/test_slotcon_distributed.py (losses and centre):
the *gradients* DDP averages over 2 gloo ranks equal the gradients of one
process on the concatenated batch, for every student parameter."""
import os
import socket
import sys

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

BATCH = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _grads(model, views, samples):
    losses = model.loss(views, samples)
    sum(losses.values()).backward()
    return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def _worker(rank: int, world: int, port: int, queue) -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch_dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        from mmdense.utils import register_all_modules
        register_all_modules()
        from tests.test_models.slotcon_tiny import build_tiny_slotcon, fake_batch
        model = build_tiny_slotcon().eval()
        views, samples = fake_batch(BATCH)
        per = BATCH // world
        sl = slice(rank * per, (rank + 1) * per)
        grads = _grads(model, [v[sl] for v in views], samples[sl])
        for g in grads.values():  # what DDP does: average over ranks
            torch_dist.all_reduce(g)
            g /= world
        queue.put((rank, {k: g.numpy() for k, g in grads.items()}))
    finally:
        torch_dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_gradients_match_one_process():
    from tests.test_models.slotcon_tiny import build_tiny_slotcon, fake_batch
    model = build_tiny_slotcon().eval()
    views, samples = fake_batch(BATCH)
    expected = _grads(model, views, samples)
    assert len(expected) > 10 and any(k.startswith('predictor') for k in expected)
    ctx = mp.get_context('fork')  # the children share this process's imports
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for rank, grads in results.items():
        assert grads.keys() == expected.keys()
        for k, g in grads.items():
            ref = expected[k]
            scale = ref.abs().max().item() + 1e-12
            diff = (torch.from_numpy(g) - ref).abs().max().item()
            assert diff <= 1e-4 * scale + 1e-7, (rank, k, diff, scale)
