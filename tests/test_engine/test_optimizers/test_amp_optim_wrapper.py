# Copyright (c) mmdense contributors. All rights reserved.
import torch

import mmdense.engine  # noqa: F401  (registers CPUAmpOptimWrapper)


def test_cpu_amp_wrapper_trains_in_bfloat16():
    from mmengine.optim import build_optim_wrapper
    model = torch.nn.Linear(4, 2)
    optim_wrapper = build_optim_wrapper(
        model,
        dict(
            type='CPUAmpOptimWrapper',
            dtype='bfloat16',
            optimizer=dict(type='SGD', lr=0.1)))
    before = model.weight.detach().clone()
    with optim_wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    optim_wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight)
    assert model.weight.dtype == torch.float32
    state = optim_wrapper.state_dict()
    optim_wrapper.load_state_dict(state)
