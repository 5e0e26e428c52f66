# Copyright (c) mmdense contributors. All rights reserved.
"""ViCE's visual concepts: K unit-norm prototype vectors (SwAV's C)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdense.registry import MODELS


@MODELS.register_module()
class NormalizedPrototypes(nn.Module):
    """``K`` prototype vectors of dimension ``D``, renormalised to unit norm.

    mmpretrain's ``MultiPrototypes`` is an ``nn.Linear`` inside ``SwAVHead``
    and its renormalisation lives in SwAV's training loop; ViCE scores region
    means and pixels (inference) with the same vectors, so they are a module
    of their own. Call :meth:`normalize_` once per training step (ViCE does
    it before the forward pass, as the SwAV code does).

    Args:
        num_prototypes (int): K.
        dim (int): D.
    """

    def __init__(self, num_prototypes: int, dim: int) -> None:
        super().__init__()
        if num_prototypes < 2 or dim < 1:
            raise ValueError(f'NormalizedPrototypes: need K >= 2 and D >= 1, '
                             f'got K={num_prototypes}, D={dim}')
        self.num_prototypes = num_prototypes
        self.dim = dim
        weight = torch.empty(num_prototypes, dim)
        nn.init.kaiming_uniform_(weight, a=5 ** 0.5)  # nn.Linear's default
        self.weight = nn.Parameter(F.normalize(weight, dim=1))

    @torch.no_grad()
    def normalize_(self) -> None:
        """Project every prototype back onto the unit sphere, in place."""
        self.weight.copy_(F.normalize(self.weight, dim=1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Cosine scores of unit-norm features against the prototypes.

        Args:
            features (Tensor): ``(N, D)`` vectors or ``(B, D, h, w)`` maps.

        Returns:
            Tensor: ``(N, K)`` or ``(B, K, h, w)``.
        """
        if features.dim() == 4:
            return torch.einsum('bdhw,kd->bkhw', features, self.weight)
        return features @ self.weight.t()
