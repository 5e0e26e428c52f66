# Copyright (c) mmdense contributors. All rights reserved.
"""DINO projection head (CrOC's global and dense heads).

Written here because mmpretrain 1.2.0 has no DINO head (SPEC §0b).
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmdense.registry import MODELS


class _ZeroGrad(torch.autograd.Function):
    """Identity whose backward returns zeros (a frozen layer that DDP still
    sees as used, unlike ``detach`` or ``requires_grad=False``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(grad)


class WeightNormLinear(nn.Module):
    """Bias-free linear layer with weight normalisation ``W = g * v / ||v||``.

    Implemented explicitly instead of with
    ``torch.nn.utils.parametrizations.weight_norm`` (which works in torch
    2.14): the explicit form stores ``weight_g`` / ``weight_v``, the key names
    of the official DINO / CrOC checkpoints (the parametrisation stores
    ``parametrizations.weight.original0/1``), a fixed norm is a plain
    ``weight_g`` buffer of ones instead of a parameter to exclude from every
    optimiser, and deep copies (the EMA teacher) carry no parametrisation
    machinery. With ``g`` fixed to 1 the forward pass is ``x @ normalize(v).T``.

    Args:
        in_features (int): input dimension.
        out_features (int): output dimension (number of prototypes).
        fixed_norm (bool): ``weight_g`` is a buffer of ones (not trained);
            otherwise a parameter initialised to 1.
    """

    def __init__(self, in_features: int, out_features: int, fixed_norm: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight_v = nn.Parameter(torch.empty(out_features, in_features))
        if fixed_norm:
            self.register_buffer('weight_g', torch.ones(out_features, 1))
        else:
            self.weight_g = nn.Parameter(torch.ones(out_features, 1))
        self.frozen = False
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Linear``'s default direction init (as DINO), unit norm."""
        nn.init.kaiming_uniform_(self.weight_v, a=5 ** 0.5)
        with torch.no_grad():
            self.weight_g.fill_(1.)

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight ``(out_features, in_features)``."""
        return self.weight_g * F.normalize(self.weight_v, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer.

        Args:
            x (Tensor): ``(..., in_features)``.

        Returns:
            Tensor: ``(..., out_features)``.
        """
        v, g = self.weight_v, self.weight_g
        if self.frozen and torch.is_grad_enabled():
            v = _ZeroGrad.apply(v)
            g = _ZeroGrad.apply(g) if g.requires_grad else g
        return F.linear(x, g * F.normalize(v, dim=1))

    def extra_repr(self) -> str:
        return (f'in_features={self.in_features}, out_features={self.out_features}, '
                f'fixed_norm={not isinstance(self.weight_g, nn.Parameter)}')


@MODELS.register_module()
class DINOHead(BaseModule):
    """MLP, L2 normalisation, then weight-normalised prototype layer(s).

    ``in_dim -> hidden_dim (GELU) -> ... -> bottleneck_dim`` with ``nlayers``
    linear layers (optional BatchNorm after each hidden one), L2-normalised,
    then a bias-free :class:`WeightNormLinear` ``bottleneck_dim -> out_dim``.
    Several ``out_dims`` give one shared MLP with one last layer each (CrOC:
    global head 65536 and dense head 8192 share everything but the last
    layer); ``forward(x, index)`` picks the last layer.

    The last layers can be frozen (``freeze_last_layer(True)``, e.g. by a hook
    during the first epoch): their gradients become zeros, which keeps DDP
    happy and, with a fixed norm, leaves their direction unchanged under
    AdamW / SGD weight decay (decay only rescales ``weight_v``).

    Args:
        in_dim (int): input dimension (384 for ViT-S).
        out_dims (int | Sequence[int]): output dimension of each last layer.
        use_bn (bool): BatchNorm1d after each hidden linear layer.
        norm_last_layer (bool): fix the last layers' weight norm to 1.
        nlayers (int): linear layers in the MLP (>= 1).
        hidden_dim (int): hidden width.
        bottleneck_dim (int): width before the last layer.
        init_cfg (dict, optional): mmengine init config; by default Linear
            weights trunc-normal(std 0.02), zero biases.
    """

    def __init__(self,
                 in_dim: int,
                 out_dims: Union[int, Sequence[int]] = 65536,
                 use_bn: bool = False,
                 norm_last_layer: bool = True,
                 nlayers: int = 3,
                 hidden_dim: int = 2048,
                 bottleneck_dim: int = 256,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if nlayers < 1:
            raise ValueError(f'DINOHead: nlayers must be >= 1, got {nlayers}')
        self.out_dims = [int(out_dims)] if isinstance(out_dims, int) else [int(d) for d in out_dims]
        if not self.out_dims:
            raise ValueError('DINOHead: out_dims is empty')
        self.mlp = self._build_mlp(in_dim, hidden_dim, bottleneck_dim, nlayers, use_bn)
        self.last_layers = nn.ModuleList(
            WeightNormLinear(bottleneck_dim, dim, fixed_norm=norm_last_layer)
            for dim in self.out_dims)
        self._init_mlp()

    @staticmethod
    def _build_mlp(in_dim: int, hidden_dim: int, bottleneck_dim: int, nlayers: int,
                   use_bn: bool) -> nn.Sequential:
        dims = [in_dim] + [hidden_dim] * (nlayers - 1) + [bottleneck_dim]
        layers: List[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(d_in, d_out))
            if i < nlayers - 1:
                if use_bn:
                    layers.append(nn.BatchNorm1d(d_out))
                layers.append(nn.GELU())
        return nn.Sequential(*layers)

    def _init_mlp(self) -> None:
        for module in self.mlp.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=.02)
                nn.init.zeros_(module.bias)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            self._init_mlp()

    @property
    def last_layer(self) -> WeightNormLinear:
        """The first (for a single-output head, the only) last layer."""
        return self.last_layers[0]

    def freeze_last_layer(self, flag: bool = True) -> None:
        """Zero the gradients of all last layers while ``flag`` is set."""
        for layer in self.last_layers:
            layer.frozen = bool(flag)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The shared part: MLP then L2 normalisation.

        Args:
            x (Tensor): ``(..., in_dim)``.

        Returns:
            Tensor: ``(..., bottleneck_dim)`` unit vectors.
        """
        lead = x.shape[:-1]
        z = self.mlp(x.reshape(-1, x.shape[-1]))
        return F.normalize(z, dim=-1).reshape(*lead, z.shape[-1])

    def forward(self, x: torch.Tensor, index: int = 0) -> torch.Tensor:
        """Prototype logits of last layer ``index``.

        Args:
            x (Tensor): ``(..., in_dim)``.
            index (int): which of ``out_dims``.

        Returns:
            Tensor: ``(..., out_dims[index])``.
        """
        return self.last_layers[index](self.embed(x))
