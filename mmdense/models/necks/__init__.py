# Copyright (c) mmdense contributors. All rights reserved.
from .mlp import MLPNeck

__all__ = ['MLPNeck']
