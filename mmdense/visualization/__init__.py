# Copyright (c) mmdense contributors. All rights reserved.
from .concepts import (discover_concepts, draw_assignment_overlay, draw_concept_grid,
                       prototype_palette)

__all__ = ['discover_concepts', 'draw_assignment_overlay', 'draw_concept_grid', 'prototype_palette']
