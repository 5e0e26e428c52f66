# Copyright (c) mmdense contributors. All rights reserved.
"""SlotCon's loss terms, gradients and centre on fixed inputs equal the ones
recorded from the code before the foundation refactor (``tests/data/
slotcon_golden.json``, made by ``tests/data/make_slotcon_golden.py`` on the
commit before it; text only: exact float values, and a sha256 and the norm
of every float32 gradient).

Bit-identical on a CPU of the recording's kind (same torch, same vector
ISA); within float rounding elsewhere, where BLAS kernels differ.
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmdense.registry import MODELS
from tests.harness.paths import TEST_DATA
from tests.harness.slotcon_tiny import TINY_SLOTCON

GOLDEN = Path(TEST_DATA) / 'slotcon_golden.json'


def _cpu_flags():
    flags = open('/proc/cpuinfo').read().split() if Path('/proc/cpuinfo').exists() else []
    return sorted({f for f in flags if f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')})


@pytest.fixture(scope='module')
def golden():
    return json.loads(GOLDEN.read_text())


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
        ds.set_field(np.asarray(crops, dtype=np.float32), 'view_crops')
        ds.set_field(np.asarray(flips, dtype=bool), 'view_flips')
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

    def same(got, value, name):
        value = torch.tensor(value, dtype=torch.float64)
        got = got.detach().double().reshape(value.shape)
        if exact:  # float32 -> float64 and the JSON float are exact
            assert torch.equal(got, value), f'{name}: {got} != {value} (bit-identical expected)'
        else:
            torch.testing.assert_close(got, value, rtol=1e-5 if dtype == torch.float32 else 1e-12,
                                       atol=1e-6 if dtype == torch.float32 else 1e-12, msg=name)

    assert set(losses) == set(ref['losses'])
    for name, value in ref['losses'].items():
        same(losses[name], value, name)
    same(model.group_loss.center.flatten(), ref['center'], 'center')
    grads = {k: p.grad for k, p in model.named_parameters() if p.grad is not None}
    recorded = ref['grads'] if dtype == torch.float32 else ref['grad_norms']
    assert set(grads) == set(recorded)
    for name, value in recorded.items():
        if dtype == torch.float64:
            same(grads[name].norm(), value, name)
            continue
        same(grads[name].double().norm(), value['norm'], name)
        if exact:
            digest = hashlib.sha256(grads[name].contiguous().numpy().tobytes()).hexdigest()
            assert digest == value['sha256'], f'{name}: gradient bytes differ'
