# Copyright (c) mmdense contributors. All rights reserved.
"""Throughput of a config against a reference path, measured in one run.

``tools/analysis_tools/benchmark.py`` is the command-line front end; the
conventions and measured numbers are in ``docs/benchmarks/speed.md``.

Three stages, each timed as warm-up + N iterations, subject and reference
in the same process (same machine state, same threads, same precision):

- ``step``: the config's model ``train_step`` (its optim wrapper built by
  mmengine's ``build_optim_wrapper`` from the config: LARS constructor etc.)
  on synthetic uint8 views of the config's view count and size, with
  ``view_crops`` / ``view_flips`` as ``PackMultiViewInputs`` makes them, vs
  a plain supervised classification step (global pooling + linear + CE,
  SGD) of the *same backbone* rebuilt standalone, and of torchvision's
  ResNet-50 when the backbone is a ResNet-50. img/s counts **source
  images** (see :data:`STEP_CONVENTION`). The subject's step is broken down
  into regions (:data:`BENCHMARK_REGIONS`) by forward hooks and wrapped
  methods put on the built objects, not by changing the algorithm.
- ``data``: the config's ``train_dataloader.dataset.pipeline`` on real
  images in one process (one thread) vs a plain PIL decode +
  ``torchvision.transforms.v2`` two-view pipeline with the same
  augmentations.
- ``eval``: the unsupervised-segmentation k-means protocol
  (:func:`~mmdense.evaluation.dense.collect_dense_features` +
  :func:`~mmdense.evaluation.dense.kmeans_eval`, one seed) on generated
  images vs a direct faiss + numpy fit / per-pixel assignment on the same
  features.

Modules: :mod:`.common` (constants, config helpers), :mod:`.timing`
(environment, memory, region timers, interleaved timing), :mod:`.step`,
:mod:`.references` (the supervised reference steps), :mod:`.data`,
:mod:`.evaluation`, :mod:`.runner` and :mod:`.report`.
"""
from .common import (BENCHMARK_REGIONS, BENCHMARK_STAGES, PRECISIONS, TARGETS,
                     load_benchmark_config, optim_wrapper_for_precision, view_layout)
from .data import bench_data, list_images
from .evaluation import bench_eval
from .report import format_report
from .runner import run_benchmark
from .step import bench_step, synthetic_view_batch
from .timing import RegionTimer, environment, instrument_step, model_regions

__all__ = [
    'BENCHMARK_REGIONS', 'BENCHMARK_STAGES', 'PRECISIONS', 'TARGETS', 'RegionTimer',
    'bench_data', 'bench_eval', 'bench_step', 'environment', 'format_report', 'instrument_step',
    'list_images', 'load_benchmark_config', 'model_regions', 'optim_wrapper_for_precision', 'run_benchmark',
    'synthetic_view_batch', 'view_layout'
]
