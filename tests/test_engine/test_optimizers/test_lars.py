# Copyright (c) mmdense contributors. All rights reserved.
"""BarlowLARS against a direct transcription of the official SlotCon LARS."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from mmdense.engine.optimizers import BarlowLARS


def official_lars_step(params, state, lr, weight_decay, momentum=0.9, eta=0.001):
    """The official SlotCon ``LARS.step`` (Barlow Twins style), line by line."""
    for p in params:
        dp = p.grad
        if dp is None:
            continue
        if p.ndim > 1:  # if not normalization gamma/beta or bias
            dp = dp.add(p, alpha=weight_decay)
            param_norm = torch.norm(p)
            update_norm = torch.norm(dp)
            one = torch.ones_like(param_norm)
            q = torch.where(param_norm > 0.,
                            torch.where(update_norm > 0, (eta * param_norm / update_norm), one),
                            one)
            dp = dp.mul(q)
        if p not in state:
            state[p] = torch.zeros_like(p)
        mu = state[p]
        mu.mul_(momentum).add_(dp)
        p.add_(mu, alpha=-lr)


def make_params(dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = {
        'linear': (4, 3), 'conv': (2, 3, 3, 3), 'bias': (4, ), 'bn_weight': (5, ),
        'scalar': (), 'zero_param': (3, 3), 'zero_grad': (3, 2), 'no_grad': (2, 2),
    }
    params = {}
    for name, shape in shapes.items():
        p = torch.randn(shape, generator=gen, dtype=dtype)
        if name == 'zero_param':
            p.zero_()
        params[name] = p.requires_grad_()
    return params


def set_grads(params, step, seed=0):
    gen = torch.Generator().manual_seed(1000 * seed + step)
    for name, p in params.items():
        if name == 'no_grad':
            p.grad = None
        elif name == 'zero_grad':
            p.grad = torch.zeros_like(p)
        else:
            p.grad = torch.randn(p.shape, generator=gen, dtype=p.dtype)


@pytest.mark.parametrize('weight_decay', [0., 1e-5, 0.1])
def test_steps_match_the_official_transcription(weight_decay):
    ours, ref = make_params(), make_params()
    opt = BarlowLARS(list(ours.values()), lr=0.5, momentum=0.9, weight_decay=weight_decay,
                     eta=0.001)
    ref_state = {}
    for step in range(6):
        lr = 0.5 * (1 - step / 10)  # a scheduler changes the lr between steps
        for group in opt.param_groups:
            group['lr'] = lr
        set_grads(ours, step)
        set_grads(ref, step)
        opt.step()
        with torch.no_grad():
            official_lars_step(list(ref.values()), ref_state, lr, weight_decay)
        for name in ours:
            torch.testing.assert_close(ours[name], ref[name], rtol=1e-12, atol=1e-15,
                                       msg=f'{name} after step {step}')
    # the cases the rule distinguishes did happen
    assert torch.equal(ours['no_grad'], make_params()['no_grad'])  # no grad: untouched
    assert 'mu' not in opt.state[ours['no_grad']]
    assert not torch.equal(ours['zero_param'], torch.zeros(3, 3, dtype=torch.float64)) or \
        weight_decay == 0.  # trust ratio 1 moves a zero weight with its gradient


def test_float32_and_adaptation_really_applies():
    ours, ref = make_params(torch.float32), make_params(torch.float32)
    opt = BarlowLARS(list(ours.values()), lr=2.0, weight_decay=1e-5)
    ref_state = {}
    for step in range(3):
        set_grads(ours, step)
        set_grads(ref, step)
        opt.step()
        with torch.no_grad():
            official_lars_step(list(ref.values()), ref_state, 2.0, 1e-5)
    for name in ours:
        torch.testing.assert_close(ours[name], ref[name], rtol=1e-5, atol=1e-6)
    # a weight moves by ~eta * lr * |p| per step; a bias by lr * |g| (no adaptation)
    fresh = make_params(torch.float32)
    assert (ours['linear'] - fresh['linear']).norm() < 0.02 * fresh['linear'].norm()
    assert (ours['bias'] - fresh['bias']).norm() > 1.0


def test_state_dict_round_trip_continues_identically():
    def run(params, opt, steps):
        for step in steps:
            set_grads(params, step)
            opt.step()

    a = make_params()
    opt_a = BarlowLARS(list(a.values()), lr=0.3, weight_decay=1e-5)
    run(a, opt_a, range(3))
    saved = copy.deepcopy(opt_a.state_dict())
    assert set(saved['state'][0]) == {'mu'}
    b = {k: v.detach().clone().requires_grad_() for k, v in a.items()}
    opt_b = BarlowLARS(list(b.values()), lr=99., weight_decay=0.5)  # overwritten by the load
    opt_b.load_state_dict(saved)
    assert opt_b.param_groups[0]['lr'] == 0.3 and opt_b.param_groups[0]['weight_decay'] == 1e-5
    run(a, opt_a, range(3, 6))
    run(b, opt_b, range(3, 6))
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_no_host_sync_in_a_step(monkeypatch):
    """Nothing is read back to the host: meta tensors have no data to read."""
    params = [torch.empty(s, device='meta', requires_grad=True) for s in ((8, 4), (4, ), (3, 3, 2))]
    for p in params:
        p.grad = torch.empty_like(p)
    opt = BarlowLARS(params, lr=1.0, weight_decay=1e-5)
    opt.step()  # .item() / bool() on a meta tensor would raise
    assert all(opt.state[p]['mu'].is_meta for p in params)
    # and on CPU, no Python-level conversion of a tensor to a number
    cpu = make_params(torch.float32)
    set_grads(cpu, 0)
    opt = BarlowLARS(list(cpu.values()), lr=1.0, weight_decay=1e-5)

    def refuse(*args, **kwargs):
        raise AssertionError('host sync in BarlowLARS.step')

    for attr in ('item', 'tolist', '__bool__', '__float__', '__int__'):
        monkeypatch.setattr(torch.Tensor, attr, refuse)
    opt.step()


def test_groups_flags_and_bad_arguments():
    torch.manual_seed(0)
    w = torch.randn(4, 4, requires_grad=True)
    w.grad = torch.randn(4, 4)
    start = w.detach().clone()
    # lars_exclude on a 2-D group: momentum SGD on g + wd p, no trust ratio
    opt = BarlowLARS([dict(params=[w], lars_exclude=True)], lr=0.1, weight_decay=0.01)
    opt.step()
    torch.testing.assert_close(w.detach(), start - 0.1 * (w.grad + 0.01 * start))
    # exclude_1d=False adapts a bias as well
    b = torch.randn(6, requires_grad=True)
    b.grad = torch.randn(6)
    start = b.detach().clone()
    BarlowLARS([b], lr=1.0, eta=0.001, exclude_1d=False).step()
    expected = start - 0.001 * start.norm() / b.grad.norm() * b.grad
    torch.testing.assert_close(b.detach(), expected)
    for kwargs in (dict(lr=-1.), dict(lr=1., momentum=-0.1), dict(lr=1., weight_decay=-1.),
                   dict(lr=1., eta=-1.)):
        with pytest.raises(ValueError):
            BarlowLARS([b], **kwargs)


def test_a_slotcon_tiny_step_with_the_constructor_matches_the_official_rule():
    from tests.harness.slotcon_tiny import build_tiny_slotcon, fake_batch
    model = build_tiny_slotcon()
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='LARSOptimWrapperConstructor',
        optimizer=dict(type='BarlowLARS', lr=2.0, momentum=0.9, weight_decay=1e-5, eta=0.001)))
    optimizer = wrapper.optimizer
    assert isinstance(optimizer, BarlowLARS)
    # the constructor's marks and the optimizer's own 1-D rule select the same parameters
    for group in optimizer.param_groups:
        (p, ) = group['params']
        assert bool(group.get('lars_exclude', False)) == (p.ndim <= 1)
        assert group['weight_decay'] == (0. if p.ndim <= 1 else 1e-5)
    views, samples = fake_batch(4)
    for step in range(2):  # the second step exercises the momentum buffers
        losses = model.loss(views, samples)
        wrapper.zero_grad()
        sum(losses.values()).backward()
        named = [(n, p) for n, p in model.named_parameters() if p.grad is not None]
        assert any(p.ndim <= 1 for _, p in named) and any(p.ndim > 1 for _, p in named)
        reference = {n: p.detach().clone() for n, p in named}
        if step == 0:
            ref_state = {}
            ref_params = {n: p.detach().clone() for n, p in named}
        for n, p in named:
            ref_params[n].copy_(reference[n])
            ref_params[n].grad = p.grad.detach().clone()
        official_lars_step([ref_params[n] for n, _ in named], ref_state, 2.0, 1e-5)
        optimizer.step()
        for n, p in named:
            torch.testing.assert_close(p.detach(), ref_params[n], rtol=1e-5, atol=1e-7, msg=n)
            assert not torch.equal(p.detach(), reference[n]) or p.grad.abs().max() == 0, n


def test_a_step_leaves_the_param_groups_as_they_are():
    """Resumed and uninterrupted runs must save the same group keys."""
    params = make_params()
    set_grads(params, 0)
    opt = BarlowLARS(list(params.values()), lr=0.1)
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))  # torch adds keys to .defaults here
    keys = set(opt.param_groups[0])
    opt.step()
    assert set(opt.param_groups[0]) == keys
    # a group without BarlowLARS's keys (e.g. from mmpretrain's LARS) still steps
    for key in ('eta', 'exclude_1d'):
        del opt.param_groups[0][key]
    opt.step()
