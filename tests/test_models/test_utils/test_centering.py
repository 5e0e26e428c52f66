# Copyright (c) mmdense contributors. All rights reserved.
import pytest
import torch

from mmdense.models.utils import Centering
from mmdense.models.utils import centering as centering_module


@pytest.mark.parametrize('shape', [(6, 4), (3, 4, 5, 5), (2, 4, 3)])
def test_ema_of_the_per_channel_mean_for_any_layout(shape):
    centre = Centering(4, momentum=0.9, score_ndim=len(shape))
    assert centre.center.shape == (1, 4) + (1, ) * (len(shape) - 2)
    a, b = torch.randn(shape), torch.randn(shape) + 3.
    dims = [d for d in range(len(shape)) if d != 1]
    centre.update_center([a, b])
    mean = torch.cat([a, b]).mean(dim=dims)
    torch.testing.assert_close(centre.center.flatten(), 0.1 * mean)
    centre.update_center(a)
    torch.testing.assert_close(centre.center.flatten(), 0.09 * mean + 0.1 * a.mean(dim=dims))
    torch.testing.assert_close(centre.centre(a), a - centre.center)


def test_distributed_switch_sums_counts_and_totals(monkeypatch):
    calls = []

    def fake_all_reduce(stats):  # a second rank with the same statistics
        calls.append(stats.clone())
        return stats * 2

    monkeypatch.setattr(centering_module, 'all_reduce_sum', fake_all_reduce)
    scores = torch.randn(5, 3)
    shared = Centering(3, momentum=0.0)
    shared.update_center(scores)
    assert len(calls) == 1 and calls[0][-1] == 5  # totals and the count in one reduction
    torch.testing.assert_close(shared.center.flatten(), scores.mean(0))  # same data: same mean
    local = Centering(3, momentum=0.0, distributed=False)
    local.update_center(scores)
    assert len(calls) == 1


def test_declares_its_rollback_state_and_checks_arguments():
    assert Centering.rollback_buffers == ('center', )
    with pytest.raises(ValueError):
        Centering(0)
    with pytest.raises(ValueError):
        Centering(3, momentum=1.5)
