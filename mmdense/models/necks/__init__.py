# Copyright (c) mmdense contributors. All rights reserved.
from .aspp import ASPPNeck
from .mlp import MLPNeck

__all__ = ['MLPNeck', 'ASPPNeck']
