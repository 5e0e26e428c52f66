# Copyright (c) mmdense contributors. All rights reserved.
"""A tiny SlotCon and a matching fake batch, shared by the model tests."""
import numpy as np
import torch
from mmpretrain.structures import DataSample

from mmdense.registry import MODELS

TINY_SLOTCON = dict(
    type='SlotCon',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                  strides=(1, 2, 2, 1), out_indices=(3, )),
    neck=dict(type='MLPNeck', in_channels=64, hid_channels=32, out_channels=16, dense=True),
    grouping=dict(type='SemanticGrouping', num_prototypes=6, dim=16),
    predictor=dict(type='MLPNeck', in_channels=16, hid_channels=32, out_channels=16, dense=False),
    group_loss=dict(type='PrototypeDistillLoss'),  # K comes from the grouping
    contrast_loss=dict(type='SlotContrastLoss', temperature=0.2),
)


def build_tiny_slotcon(seed: int = 0):
    torch.manual_seed(seed)
    model = MODELS.build(TINY_SLOTCON)
    model.init_weights()
    return model


def fake_batch(batch_size: int, size: int = 32, seed: int = 0):
    """Two views and data samples with random overlapping crops and flips.

    The crops (``view_crops``, original-image pixels) always intersect; the
    model derives the pairwise overlap boxes from them.
    """
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(batch_size, 3, size, size, generator=gen) for _ in range(2)]
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(batch_size):
        lo = rng.uniform(0, 40, size=(2, 2)).round()
        hi = lo + rng.uniform(30, 60, size=(2, 2)).round()  # lo < 40 < 30 + lo: overlap
        crops = np.concatenate([lo, hi], axis=1).astype(np.float32)
        ds = DataSample()
        ds.set_field(crops, 'view_crops')
        ds.set_field(rng.random(2) < 0.5, 'view_flips')
        samples.append(ds)
    return views, samples
