# Copyright (c) mmdense contributors. All rights reserved.
"""What the command-line tools run: model / dataloader building for the
analysis tools and the backbone exporter. May import every other part of
mmdense (nothing in mmdense imports it)."""
from .backbone_export import (BackboneNotFoundError, export_backbone, extract_backbone,
                              resolve_backbone_prefix, to_detectron2)
from .benchmark import BENCHMARK_STAGES, format_report, run_benchmark
from .inference import (ModelAndLoader, add_model_args, build_model_from_config,
                        build_test_dataloader, load_model_and_loader, load_weights)

__all__ = [
    'BENCHMARK_STAGES', 'BackboneNotFoundError', 'ModelAndLoader', 'add_model_args',
    'build_model_from_config', 'build_test_dataloader', 'export_backbone', 'extract_backbone',
    'format_report', 'load_model_and_loader', 'load_weights', 'resolve_backbone_prefix',
    'run_benchmark', 'to_detectron2'
]
