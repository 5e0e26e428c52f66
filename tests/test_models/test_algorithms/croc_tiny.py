# Copyright (c) mmdense contributors. All rights reserved.
"""A tiny CrOC (ViT of 2 blocks, 32-px views) and its inputs, for the tests."""
import copy
from typing import List, Tuple

import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement

from tests.harness.paths import REPO

BASE_MODEL = f'{REPO}/configs/_base_/models/croc_vit-small.py'


def tiny_croc_cfg(**overrides) -> dict:
    """The paper model config, shrunk: ViT (dims 32, 2 blocks, 4 heads, patch 8)."""
    cfg = copy.deepcopy(Config.fromfile(BASE_MODEL).model.to_dict())
    cfg['backbone'].update(arch=dict(embed_dims=32, num_layers=2, num_heads=4,
                                     feedforward_channels=64),
                           img_size=32, patch_size=8, drop_path_rate=0.)
    cfg['head'].update(in_dim=32, out_dims=(48, 24), hidden_dim=32, bottleneck_dim=16)
    cfg['clustering'].update(num_seeds=4)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


def build_tiny_croc(**overrides):
    from mmdense.registry import MODELS
    from mmdense.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(tiny_croc_cfg(**overrides))
    model.init_weights()
    return model


def view_pair_batch(batch: int = 4, size: int = 32,
                    seed: int = 0) -> Tuple[List[torch.Tensor], list]:
    """Two random ``(B, 3, size, size)`` views and samples with crops / flips."""
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(batch, 3, size, size, generator=gen) for _ in range(2)]
    samples = []
    for i in range(batch):
        sample = BaseDataElement()
        x0, y0 = int(torch.randint(0, 20, (1,), generator=gen)), int(torch.randint(0, 20, (1,), generator=gen))
        sample.view_crops = [[0, 0, 64, 64], [x0, y0, x0 + 40, y0 + 40]]
        sample.view_flips = [False, bool(i % 2)]
        samples.append(sample)
    return views, samples
