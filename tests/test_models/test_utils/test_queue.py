# Copyright (c) mmdense contributors. All rights reserved.
import torch

from mmdense.models.utils import MomentumQueue
from mmdense.models.utils import queue as queue_module


def _rows(start, num, dim=2):
    return torch.arange(start, start + num, dtype=torch.float32)[:, None].expand(num, dim)


def _ids(q, ordered=True):
    return q.get(ordered=ordered)[:, 0].long().tolist()


def test_fill_wrap_and_fifo_order():
    q = MomentumQueue(5, 2, distributed=False)
    assert len(q) == 0 and not q.full and q.get().shape == (0, 2)
    q.enqueue(_rows(0, 3))
    assert _ids(q) == [0, 1, 2] and int(q.ptr) == 3 and not q.full
    assert q.valid().tolist() == [True, True, True, False, False]
    q.enqueue(_rows(3, 4))  # wraps: 3, 4 at the end, 5, 6 at the front
    assert q.full and int(q.ptr) == 2 and len(q) == 5
    assert _ids(q) == [2, 3, 4, 5, 6]
    assert _ids(q, ordered=False) == [5, 6, 2, 3, 4]
    assert q.valid().all()


def test_batch_equal_to_and_larger_than_length():
    q = MomentumQueue(4, 2, distributed=False)
    q.enqueue(_rows(0, 1))
    q.enqueue(_rows(10, 4))  # == length
    assert _ids(q) == [10, 11, 12, 13] and int(q.ptr) == 1
    q.enqueue(_rows(20, 7))  # > length: keep the newest 4, ptr as if all were written
    assert _ids(q) == [23, 24, 25, 26] and int(q.ptr) == (1 + 7) % 4
    q.enqueue(_rows(30, 1))
    assert _ids(q) == [24, 25, 26, 30]
    q.enqueue(_rows(40, 0))
    assert _ids(q) == [24, 25, 26, 30]


def test_normalize_init_random_and_reset():
    q = MomentumQueue(3, 4, normalize=True, distributed=False, init_random=True)
    assert q.full
    torch.testing.assert_close(q.get().norm(dim=1), torch.ones(3))
    q.enqueue(torch.tensor([[3., 4., 0., 0.]]))
    torch.testing.assert_close(q.get(ordered=True)[-1], torch.tensor([.6, .8, 0., 0.]))
    q.reset()
    assert len(q) == 0 and int(q.ptr) == 0


def test_gather_switch(monkeypatch):
    monkeypatch.setattr(queue_module, 'concat_all_gather', lambda t: torch.cat([t, t + 100]))
    q = MomentumQueue(6, 2)  # distributed by default
    q.enqueue(_rows(0, 2))
    assert _ids(q) == [0, 1, 100, 101]
    q.enqueue(_rows(5, 1), gather=False)
    assert _ids(q) == [0, 1, 100, 101, 5]
    local = MomentumQueue(6, 2, distributed=False)
    local.enqueue(_rows(0, 2))
    assert _ids(local) == [0, 1]


def test_rollback_buffers_are_buffers_and_restore_state():
    q = MomentumQueue(4, 2, distributed=False)
    buffers = dict(q.named_buffers())
    assert set(q.rollback_buffers) <= set(buffers)
    assert set(q.rollback_buffers) == set(buffers)  # nothing left out
    q.enqueue(_rows(0, 3))
    snapshot = [getattr(q, name).clone() for name in q.rollback_buffers]
    q.enqueue(_rows(10, 3))
    for name, saved in zip(q.rollback_buffers, snapshot):
        getattr(q, name).copy_(saved)
    assert _ids(q) == [0, 1, 2] and int(q.ptr) == 3
    state = q.state_dict()
    assert {'queue', 'ptr', 'num_filled'} <= set(state)
