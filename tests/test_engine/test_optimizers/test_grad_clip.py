# Copyright (c) mmdense contributors. All rights reserved.
"""Per-parameter gradient clipping: DINO's ``clip_gradients``, through the
optimizer wrappers' ``clip_grad=dict(max_norm=..., per_parameter=True)``."""
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

import mmdense.engine  # noqa: F401  (registers the wrappers)
from mmdense.engine.optimizers import clip_grad_norm_per_param_


def _dino_clip_reference(params, clip):
    """DINO's utils.clip_gradients, written out: one parameter at a time."""
    for p in params:
        if p.grad is not None:
            coef = clip / (p.grad.norm(2) + 1e-6)
            if coef < 1:
                p.grad.mul_(coef)


def _params_with_grads(seed=0):
    gen = torch.Generator().manual_seed(seed)
    scales = (0.01, 1.0, 10.0, 100.0)  # some below the bound, some far above
    params = [torch.nn.Parameter(torch.zeros(n)) for n in (3, 7, 11, 5)]
    for p, s in zip(params, scales):
        p.grad = torch.randn(p.shape, generator=gen) * s
    params.append(torch.nn.Parameter(torch.zeros(2)))  # no gradient: skipped
    return params


def test_equals_dino_clip_gradients():
    ours, ref = _params_with_grads(), _params_with_grads()
    before = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ours[:4]]))
    total = clip_grad_norm_per_param_(ours, max_norm=3.0)
    _dino_clip_reference(ref, 3.0)
    assert torch.allclose(total, before)
    for a, b in zip(ours, ref):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert torch.allclose(a.grad, b.grad, rtol=1e-6, atol=0)
            assert a.grad.norm() <= 3.0 + 1e-4
    # the small gradient is untouched, the large ones end at the bound
    assert torch.equal(ours[0].grad, _params_with_grads()[0].grad)
    assert abs(float(ours[3].grad.norm()) - 3.0) < 1e-4


class _TwoLayers(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.small = torch.nn.Linear(4, 4)
        self.large = torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.small(x).sum() * 1e-3 + self.large(x).sum() * 1e3


@pytest.mark.parametrize('wrapper', ['PerParamClipOptimWrapper', 'CPUAmpOptimWrapper'])
def test_wrapper_clips_each_parameter_and_logs_the_total(wrapper):
    torch.manual_seed(0)
    model = _TwoLayers()
    extra = dict(dtype='float32') if wrapper == 'CPUAmpOptimWrapper' else {}
    optim = build_optim_wrapper(model, dict(
        type=wrapper, optimizer=dict(type='SGD', lr=0.0),
        clip_grad=dict(max_norm=1.0, per_parameter=True), **extra))
    loss = model(torch.ones(2, 4))
    optim.backward(loss)
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads.values()]))
    optim.step()
    for name, p in model.named_parameters():
        expected = grads[name] * min(1.0, 1.0 / (float(grads[name].norm()) + 1e-6))
        assert torch.allclose(p.grad, expected, rtol=1e-5), name
    # global clipping would have scaled the small layer's gradient too: per parameter it stays
    assert torch.equal(model.small.weight.grad, grads['small.weight'])
    logged = MessageHub.get_current_instance().get_scalar('train/grad_norm').current()
    assert abs(logged - float(total)) < 1e-3 * float(total)


def test_without_the_key_the_wrapper_clips_the_global_norm():
    torch.manual_seed(0)
    model = _TwoLayers()
    optim = build_optim_wrapper(model, dict(type='PerParamClipOptimWrapper',
                                            optimizer=dict(type='SGD', lr=0.0),
                                            clip_grad=dict(max_norm=1.0)))
    optim.backward(model(torch.ones(2, 4)))
    optim.step()
    total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert abs(float(total) - 1.0) < 1e-4  # torch's clip_grad_norm_: the global norm is the bound


@pytest.mark.parametrize('clip_grad, match', [
    (dict(clip_value=1.0, type='value', per_parameter=True), 'value'),
    (dict(per_parameter=True), 'max_norm'),
])
@pytest.mark.parametrize('wrapper', ['PerParamClipOptimWrapper', 'CPUAmpOptimWrapper'])
def test_bad_per_parameter_settings_are_refused_when_built(clip_grad, match, wrapper):
    extra = dict(dtype='float32') if wrapper == 'CPUAmpOptimWrapper' else {}
    with pytest.raises(ValueError, match=match):
        build_optim_wrapper(torch.nn.Linear(2, 2), dict(
            type=wrapper, optimizer=dict(type='SGD', lr=0.1), clip_grad=clip_grad, **extra))
