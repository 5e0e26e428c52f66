# Copyright (c) mmdense contributors. All rights reserved.
import torch.nn as nn
from mmengine.optim import build_optim_wrapper


def test_flat_params_are_excluded_from_lars_and_decay():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    model(__import__('torch').zeros(1, 3, 5, 5))
    wrapper = build_optim_wrapper(model, dict(
        constructor='LARSOptimWrapperConstructor',
        optimizer=dict(type='LARS', lr=0.1, momentum=0.9, weight_decay=1e-5)))
    groups = wrapper.optimizer.param_groups
    for group in groups:
        (param, ) = group['params']
        if param.ndim == 1:
            assert group['lars_exclude'] and group['weight_decay'] == 0.
        else:
            assert not group.get('lars_exclude', False) and group['weight_decay'] == 1e-5
    assert sum(p.ndim == 1 for g in groups for p in g['params']) == 4  # conv/linear bias, bn w/b


def test_constructor_and_barlow_lars_exclude_the_same_parameters():
    """BarlowLARS's own 1-D rule and the constructor's marks give the same steps."""
    import torch
    from mmdense.engine.optimizers import BarlowLARS

    def model_and_grads():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                              nn.Linear(36, 2))
        model(torch.randn(2, 3, 5, 5)).square().sum().backward()
        return model

    with_constructor, direct = model_and_grads(), model_and_grads()
    wrapper = build_optim_wrapper(with_constructor, dict(
        constructor='LARSOptimWrapperConstructor',
        optimizer=dict(type='BarlowLARS', lr=0.5, momentum=0.9, weight_decay=0.1)))
    assert isinstance(wrapper.optimizer, BarlowLARS)
    marked = {id(p) for g in wrapper.optimizer.param_groups if g.get('lars_exclude')
              for p in g['params']}
    assert marked == {id(p) for p in with_constructor.parameters() if p.ndim <= 1}
    plain = BarlowLARS(direct.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    for _ in range(3):
        wrapper.optimizer.step()
        plain.step()
    for a, b in zip(with_constructor.parameters(), direct.parameters()):
        assert torch.equal(a, b)
