# Copyright (c) mmdense contributors. All rights reserved.
"""A NaN/Inf loss stops training (naming the iteration and the term) or
skips the step, before anything is updated; no NaN checkpoint is written."""
import math
import os

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper

from mmdense.models.algorithms.base import (GuardedDistributedDataParallel,
                                            NonFiniteLossError, NonFiniteLossMixin)
from tests.harness.gloo import one_rank_group
from tests.harness.slotcon_tiny import TINY_SLOTCON, fake_batch

from tests.harness.reliability import GuardedSlotCon, poison


def _model(policy='raise', **kwargs):
    torch.manual_seed(0)
    cfg = {k: v for k, v in TINY_SLOTCON.items() if k != 'type'}
    model = GuardedSlotCon(**cfg, nonfinite_loss=policy, **kwargs)
    model.init_weights()
    return model


def _data():
    views, samples = fake_batch(4)
    return dict(inputs=views, data_samples=samples)


def _snapshot(model):
    params = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
    return params, buffers


@pytest.fixture(autouse=True)
def _iteration():
    MessageHub.get_current_instance().update_info('iter', 4)  # the 5th iteration
    yield


def test_slotcon_has_the_policy():
    assert issubclass(GuardedSlotCon, NonFiniteLossMixin)
    with pytest.raises(ValueError, match='nonfinite_loss'):
        _model('ignore')


def test_finite_step_updates():
    model = _model()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    params, _ = _snapshot(model)
    log = model.train_step(_data(), wrapper)
    assert math.isfinite(float(log['loss'].detach())) and 'nonfinite_skipped' not in log
    assert any(not torch.equal(params[k], v) for k, v in model.named_parameters()
               if v.requires_grad)


def test_raise_names_iteration_and_term_and_updates_nothing():
    model = _model('raise')
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    params, _ = _snapshot(model)
    poison(model)
    with pytest.raises(NonFiniteLossError, match=r'iteration 5: loss_contrast=nan') as err:
        model.train_step(_data(), wrapper)
    assert 'loss_group' not in str(err.value).split('.')[0]
    for k, v in model.named_parameters():
        if v.requires_grad:
            assert torch.equal(params[k], v) and v.grad is None, k
    assert wrapper.optimizer.state_dict()['state'] == {}


def test_inf_is_caught_too():
    model = _model('raise')
    original = model.loss
    model.loss = lambda *a, **k: {**original(*a, **k), 'loss_group': torch.tensor(float('inf'))}
    with pytest.raises(NonFiniteLossError, match='loss_group=inf'):
        model.train_step(_data(), OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))


def test_skip_drops_the_step_and_restores_buffers():
    model = _model('skip', max_nonfinite_skips=3)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    model.train_step(_data(), wrapper)  # one good step first
    params, buffers = _snapshot(model)
    params_teacher = {k: v.detach().clone() for k, v in model.teacher.named_parameters()}
    undo = poison(model)
    log = model.train_step(_data(), wrapper)
    assert float(log['nonfinite_skipped']) == 1 and math.isnan(float(log['loss_contrast']))
    for k, v in model.named_parameters():
        if v.requires_grad:
            assert torch.equal(params[k], v), k
            assert v.grad is None or not v.grad.any(), k
    for k, v in model.named_buffers():
        if v.is_floating_point():  # BN statistics, the centre
            assert torch.equal(buffers[k], v), k
    # declared state is put back: the teacher's step counter and weights too
    assert int(model.teacher.steps) == int(buffers['teacher.steps'])
    for k, v in model.teacher.named_parameters():
        assert torch.equal(params_teacher[k], v), k
    assert model.nonfinite_skips == 1
    undo()
    log = model.train_step(_data(), wrapper)  # training goes on
    assert float(log['nonfinite_skipped']) == 0 and math.isfinite(float(log['loss']))
    # too many in a row: stop
    poison(model)
    model.train_step(_data(), wrapper)
    model.train_step(_data(), wrapper)
    with pytest.raises(NonFiniteLossError, match='3 consecutive steps skipped'):
        model.train_step(_data(), wrapper)


@pytest.fixture
def one_rank_gloo():
    with one_rank_group():
        yield


def test_ddp_paths(one_rank_gloo):
    from mmengine.model import MMDistributedDataParallel
    # mmengine's DDP train_step: 'raise' works through parse_losses
    model = _model('raise')
    ddp = MMDistributedDataParallel(module=model)
    poison(model)
    with pytest.raises(NonFiniteLossError, match='loss_contrast=nan'):
        ddp.train_step(_data(), OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    # 'skip' under mmengine's DDP cannot skip: it says what to use
    model = _model('skip')
    ddp = MMDistributedDataParallel(module=model)
    poison(model)
    with pytest.raises(NonFiniteLossError, match='GuardedDistributedDataParallel'):
        ddp.train_step(_data(), OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    # ... and GuardedDistributedDataParallel skips, then trains on
    model = _model('skip')
    ddp = GuardedDistributedDataParallel(module=model)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    params, _ = _snapshot(model)
    undo = poison(model)
    assert float(ddp.train_step(_data(), wrapper)['nonfinite_skipped']) == 1
    assert all(torch.equal(params[k], v) for k, v in model.named_parameters() if v.requires_grad)
    undo()
    log = ddp.train_step(_data(), wrapper)
    assert math.isfinite(float(log['loss']))
    assert any(not torch.equal(params[k], v) for k, v in model.named_parameters()
               if v.requires_grad)


@pytest.mark.slow
@pytest.mark.parametrize('policy', ['raise', 'skip'])
def test_training_run(tmp_path, policy):
    """NaN at iteration 6 of 8 (checkpoints every 4): 'raise' stops with
    iter_4.pth as the latest (finite) checkpoint; 'skip' finishes with a
    finite iter_8.pth and logs the skipped step."""
    from tests.harness.reliability import logged_scalars, tiny_config, train_in_process
    cfg = tiny_config(str(tmp_path / 'cfg.py'), num_samples=32,
                      custom_hooks=[dict(type='NaNInjectHook', at=6)],
                      model=dict(type='GuardedSlotCon', nonfinite_loss=policy))
    work = tmp_path / 'work'
    if policy == 'raise':
        with pytest.raises(NonFiniteLossError, match=r'iteration 6: loss_contrast=nan'):
            train_in_process(cfg, work)
        assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == ['iter_4.pth']
        assert open(work / 'last_checkpoint').read().strip().endswith('iter_4.pth')
        names = ['iter_4.pth']
    else:
        train_in_process(cfg, work)
        logged = logged_scalars(str(work))
        assert logged[6]['nonfinite_skipped'] == 1 and math.isnan(logged[6]['loss_contrast'])
        assert math.isfinite(logged[7]['loss']) and logged[7]['nonfinite_skipped'] == 0
        names = ['iter_4.pth', 'iter_8.pth']
    for name in names:
        state = torch.load(work / name, map_location='cpu', weights_only=True)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_rolled_back_state_is_declared_not_inferred():
    """Only declared state (``rollback_buffers`` / ``rollback_tensors()``) and
    BatchNorm statistics are restored; an undeclared float buffer is not."""
    import torch.nn as nn

    from mmdense.models.algorithms.base import rollback_tensors

    class Declared(nn.Module):
        rollback_buffers = ('center', 'ptr')

        def __init__(self):
            super().__init__()
            self.register_buffer('center', torch.zeros(3))
            self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
            self.register_buffer('scratch', torch.zeros(3))  # not state: not declared

    model = _model('skip')
    model.extra = Declared()
    tensors = rollback_tensors(model)
    ids = {id(t) for t in tensors}
    assert id(model.extra.center) in ids and id(model.extra.ptr) in ids
    assert id(model.extra.scratch) not in ids
    assert id(model.group_loss.center) in ids and id(model.teacher.steps) in ids
    assert id(model.backbone.bn1.running_mean) in ids
    assert len(ids) == len(tensors)  # each once
