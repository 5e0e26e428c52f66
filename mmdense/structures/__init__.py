# Copyright (c) mmdense contributors. All rights reserved.
from .view_geometry import stack_view_geometry

__all__ = ['stack_view_geometry']
