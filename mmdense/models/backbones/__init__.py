# Copyright (c) mmdense contributors. All rights reserved.
from .vit_qkv import QKVVisionTransformer

__all__ = ['QKVVisionTransformer']
