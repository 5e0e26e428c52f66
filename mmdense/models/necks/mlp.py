# Copyright (c) mmdense contributors. All rights reserved.
"""MLP projectors / predictors, on vectors or (as 1x1 convs) on dense maps."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmdense.registry import MODELS


@MODELS.register_module()
class MLPNeck(BaseModule):
    """``Linear/Conv1x1 -> BN -> GELU`` x (n-1) -> ``Linear/Conv1x1``.

    One class for SlotCon's dense projector (``dense=True``: 1x1 convs with
    BatchNorm2d on ``(B, C, H, W)`` maps, 2048 -> 4096 -> 4096 -> 256) and its
    slot predictor (``dense=False``: Linear + BatchNorm1d on ``(N, C)``,
    256 -> 4096 -> 4096 -> 256). mmpretrain's ``NonLinearNeck`` pools to a
    vector and uses ReLU, so it cannot serve as the dense projector.

    Weights are truncated-normal (std 0.02) with zero biases, as the official
    SlotCon/DINO heads.

    Args:
        in_channels (int): input channels.
        hid_channels (int): hidden channels.
        out_channels (int): output channels.
        num_layers (int): number of linear layers (>= 1).
        dense (bool): 1x1 convs on maps (True) or linear layers on vectors.
        with_bias (bool): biases in the hidden layers (the last always has one).
        norm (bool): BatchNorm after each hidden layer.
        in_index (int): which backbone output to use when given a tuple.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int,
                 out_channels: int,
                 num_layers: int = 3,
                 dense: bool = True,
                 with_bias: bool = True,
                 norm: bool = True,
                 in_index: int = -1,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if init_cfg is None:
            layer = 'Conv2d' if dense else 'Linear'
            init_cfg = [dict(type='TruncNormal', layer=layer, std=0.02, bias=0.),
                        dict(type='Constant', layer=['_BatchNorm'], val=1., bias=0.)]
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'MLPNeck: num_layers must be >= 1, got {num_layers}')
        self.in_index = in_index
        self.dense = dense
        linear = (lambda i, o, b: nn.Conv2d(i, o, 1, bias=b)) if dense else nn.Linear
        bn = nn.BatchNorm2d if dense else nn.BatchNorm1d
        dims = [in_channels] + [hid_channels] * (num_layers - 1) + [out_channels]
        layers: List[nn.Module] = []
        for i in range(num_layers - 1):
            layers.append(linear(dims[i], dims[i + 1], with_bias))
            if norm:
                layers.append(bn(dims[i + 1]))
            layers.append(nn.GELU())
        layers.append(linear(dims[-2], dims[-1], True))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """Project ``x`` (a tensor or a backbone's tuple of outputs).

        Returns:
            Tensor: ``(B, out, H, W)`` if ``dense`` else ``(N, out)``.
        """
        if isinstance(x, (tuple, list)):
            x = x[self.in_index]
        return self.mlp(x)
