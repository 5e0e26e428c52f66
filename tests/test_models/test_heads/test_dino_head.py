# Copyright (c) mmdense contributors. All rights reserved.
import copy

import torch

from mmdense.models.heads import DINOHead
from mmdense.registry import MODELS


def _head(**kwargs):
    cfg = dict(type='DINOHead', in_dim=8, out_dims=(12, 6), hidden_dim=16, bottleneck_dim=4)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_shapes_layers_and_init():
    head = _head()
    assert isinstance(head, DINOHead)
    x = torch.randn(2, 3, 8)
    assert head(x).shape == (2, 3, 12)
    assert head(x, index=1).shape == (2, 3, 6)
    linears = [m for m in head.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8, 16), (16, 16), (16, 4)]
    assert sum(isinstance(m, torch.nn.GELU) for m in head.mlp) == 2
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in head.mlp)
    assert all(m.bias.abs().sum() == 0 for m in linears)
    weights = torch.cat([m.weight.flatten() for m in linears])  # trunc-normal, std 0.02
    assert 0.012 < weights.std() < 0.028 and weights.abs().max() < 0.15
    with_bn = _head(use_bn=True, nlayers=2)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in with_bn.mlp) == 1
    assert with_bn(torch.randn(5, 8)).shape == (5, 12)
    assert _head(nlayers=1).mlp[0].out_features == 4


def test_unit_norm_rows_and_frozen_norm():
    head = _head()
    with torch.no_grad():
        head.last_layer.weight_v.mul_(7.)
    torch.testing.assert_close(head.last_layer.weight.norm(dim=1), torch.ones(12))
    trainable = {n for n, p in head.named_parameters()}
    assert not any(n.endswith('weight_g') for n in trainable)
    assert 'last_layers.0.weight_g' in head.state_dict()  # the official key name
    head(torch.randn(4, 8)).sum().backward()
    assert head.last_layer.weight_v.grad.abs().sum() > 0
    free = _head(norm_last_layer=False)
    assert any(n.endswith('weight_g') for n, _ in free.named_parameters())
    # logits of a unit input are cosine similarities, bounded by 1
    assert head(torch.randn(4, 8)).abs().max() <= 1 + 1e-5


def test_shared_trunk_between_last_layers():
    head = _head()
    x = torch.randn(3, 8)
    z = head.embed(x)
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(head(x, 0), head.last_layers[0](z))
    torch.testing.assert_close(head(x, 1), head.last_layers[1](z))
    (head(x, 0).sum() + head(x, 1).sum()).backward()
    assert head.last_layers[1].weight_v.grad.abs().sum() > 0
    # both outputs depend on the same MLP parameters
    assert len(list(head.mlp.parameters())) == 6


def test_freeze_last_layer_and_copy():
    head = _head()
    head.freeze_last_layer(True)
    loss = head(torch.randn(3, 8), 0).sum() + head(torch.randn(3, 8), 1).sum()
    loss.backward()
    for layer in head.last_layers:
        assert layer.weight_v.grad is not None and layer.weight_v.grad.abs().sum() == 0
    assert head.mlp[0].weight.grad.abs().sum() > 0
    head.zero_grad()
    head.freeze_last_layer(False)
    head(torch.randn(3, 8)).sum().backward()
    assert head.last_layer.weight_v.grad.abs().sum() > 0
    teacher = copy.deepcopy(head)
    teacher.load_state_dict(head.state_dict())
    x = torch.randn(2, 8)
    torch.testing.assert_close(teacher(x, 1), head(x, 1))
