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
