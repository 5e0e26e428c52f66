# Copyright (c) mmdense contributors. All rights reserved.
"""A tiny ViCE and a matching fake M-view batch, shared by the model tests."""
import torch
from mmpretrain.structures import DataSample

from mmdense.registry import MODELS

TINY_VICE = dict(
    type='ViCE',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                  out_indices=(0, 1, 2, 3)),
    neck=dict(type='mmseg.FPN', in_channels=[8, 16, 32, 64], out_channels=16, num_outs=4),
    decode_head=dict(type='mmseg.FPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
                     feature_strides=[4, 8, 16, 32], channels=16, dropout_ratio=0.,
                     num_classes=8, norm_cfg=dict(type='BN'), align_corners=False),
    prototypes=dict(type='NormalizedPrototypes', num_prototypes=6, dim=8),
    swav_loss=dict(type='SwAVRegionLoss', queue_length=0, queue_start_iter=0,
                   freeze_prototypes_iters=0),
)


def build_tiny_vice(seed: int = 0, **overrides):
    torch.manual_seed(seed)
    cfg = dict(TINY_VICE)
    for key, value in overrides.items():
        cfg[key] = dict(cfg[key], **value) if isinstance(value, dict) else value
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def fake_batch(batch_size: int, num_views: int = 3, size: int = 32, cell: int = 8, seed: int = 0):
    """M views and samples whose region maps are a grid of ``cell`` px
    squares (ids shared by all views, a few cells missing from some views)."""
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(batch_size, 3, size, size, generator=gen) for _ in range(num_views)]
    side = size // cell
    grid = (torch.arange(size)[:, None] // cell) * side + torch.arange(size)[None] // cell
    samples = []
    for b in range(batch_size):
        maps = grid.expand(num_views, size, size).clone()
        for m in range(1, num_views):
            drop = torch.randint(0, side * side, (2, ), generator=gen)
            maps[m][torch.isin(maps[m], drop)] = -1
        ds = DataSample()
        ds.set_field(dict(superpixels=maps.int()), 'view_seg_maps')
        samples.append(ds)
    return views, samples
