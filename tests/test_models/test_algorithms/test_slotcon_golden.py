# Copyright (c) mmdense contributors. All rights reserved.
"""SlotCon's loss terms, gradients and centre on fixed inputs equal the ones
recorded from the code before the foundation refactor (``tests/data/
slotcon_golden.pt``, made by ``tests/data/make_slotcon_golden.py`` on the
commit before it).

Bit-identical on a CPU of the recording's kind (same torch, same vector
ISA); within float rounding elsewhere, where BLAS kernels differ.
"""
from pathlib import Path

import pytest
import torch
from mmpretrain.structures import DataSample

from mmdense.registry import MODELS
from tests.harness.paths import TEST_DATA
from tests.harness.slotcon_tiny import TINY_SLOTCON

GOLDEN = Path(TEST_DATA) / 'slotcon_golden.pt'


def _cpu_flags():
    flags = open('/proc/cpuinfo').read().split() if Path('/proc/cpuinfo').exists() else []
    return sorted({f for f in flags if f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')})


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, map_location='cpu', weights_only=True)


def _run(dtype, golden):
    torch.manual_seed(0)
    model = MODELS.build(TINY_SLOTCON)
    model.init_weights()
    model.to(dtype).train()
    gen = torch.Generator().manual_seed(0)
    views = [torch.randn(4, 3, 32, 32, generator=gen).to(dtype) for _ in range(2)]
    samples = []
    for crops, flips in zip(golden['inputs']['crops'], golden['inputs']['flips']):
        ds = DataSample()
        ds.set_field(crops.numpy(), 'view_crops')
        ds.set_field(flips.numpy(), 'view_flips')
        samples.append(ds)
    losses = model.loss(views, samples)
    sum(losses.values()).backward()
    return model, losses


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_losses_gradients_and_centre_match_the_recording(golden, dtype):
    key = str(dtype).split('.')[-1]
    ref = golden[key]
    model, losses = _run(dtype, golden)
    exact = (golden['machine']['cpu_flags'] == _cpu_flags()
             and golden['machine']['torch'] == torch.__version__)

    def same(a, b, name):
        if exact:
            assert torch.equal(a, b), f'{name}: {a} != {b} (bit-identical expected here)'
        else:
            torch.testing.assert_close(a, b, rtol=1e-5 if dtype == torch.float32 else 1e-12,
                                       atol=1e-6 if dtype == torch.float32 else 1e-12, msg=name)

    assert set(losses) == set(ref['losses'])
    for name, value in ref['losses'].items():
        same(losses[name].detach(), value, name)
    same(model.group_loss.center, ref['center'], 'center')
    grads = {k: p.grad for k, p in model.named_parameters() if p.grad is not None}
    assert set(grads) == set(ref['grads'])
    for name, value in ref['grads'].items():
        got = grads[name] if dtype == torch.float32 else grads[name].norm()
        same(got, value, name)
