# Copyright (c) mmdense contributors. All rights reserved.
"""Entry point: :func:`run_benchmark`."""
import logging
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Union

import torch

from .common import (BENCHMARK_STAGES, DEFAULT_ITERS, DEFAULT_WARMUP, EVAL_IMG_SIZE,
                     EVAL_NUM_CLUSTERS, EVAL_NUM_IMAGES, PRECISIONS, Log, load_benchmark_config)
from .data import bench_data
from .evaluation import bench_eval
from .step import bench_step
from .timing import _loadavg, _log_level, environment


# --------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------
def run_benchmark(config,
                  stage: str = 'step',
                  precisions: Union[str, Sequence[str]] = ('fp32', ),
                  batch_size: Optional[int] = None,
                  img_size: Optional[int] = None,
                  iters: Optional[int] = None,
                  warmup: Optional[int] = None,
                  data_root: Optional[str] = None,
                  num_images: Optional[int] = None,
                  num_clusters: int = EVAL_NUM_CLUSTERS,
                  device: Optional[str] = None,
                  threads: Optional[int] = None,
                  cfg_options: Optional[dict] = None,
                  seed: int = 0,
                  reference: bool = True,
                  log: Optional[Log] = print,
                  references: Optional[Sequence[str]] = None,
                  reference_views: Optional[str] = None) -> dict:
    """Time one stage of ``config`` against its reference, in one run.

    Args:
        config (str | Config): the config (path or ``mmengine.Config``).
        stage (str): 'step', 'data' or 'eval' (see the module docstring).
        precisions (str | Sequence[str]): 'fp32' and/or 'bf16'; the stage
            runs once per precision (step and eval; data is precision-free).
            bf16 on a CPU without native bf16 runs anyway, reported as
            emulated.
        batch_size (int, optional): step: images per step (default: the
            config's ``train_dataloader.batch_size``); eval: images per
            extraction batch (default 16).
        img_size (int, optional): step / data: size of the first view group
            (default: the config's); eval: image size (default 320).
        iters (int, optional): timed iterations (step: steps, default 10;
            data: images, default 160). eval runs once.
        warmup (int, optional): untimed iterations first (step 2, data 10).
        data_root (str, optional): data: folder of images (default: the
            COCO subset, see :func:`default_data_roots`).
        num_images (int, optional): data: use the first N files; eval:
            generated images (default 2175).
        num_clusters (int): eval: K (= number of generated classes), 27.
        device (str, optional): 'cpu' / 'cuda' (default: cuda if any).
        threads (int, optional): ``torch.set_num_threads`` for step / eval.
        cfg_options (dict, optional): merged into the config.
        seed (int): seed of the data, weights and k-means.
        reference (bool): time the reference path too (default True).
        log (callable, optional): progress lines (``print``; None: quiet).
        references (Sequence[str], optional): step: reference keys
            (:data:`~.references.STEP_REFERENCES`; default: same backbone,
            torchvision ResNet-50 for a ResNet-50, the method's own).
        reference_views (str, optional): step: 'first' or 'all' views for
            the references (default: the method's, else 'first').

    Returns:
        dict: ``stage``, ``config``, ``env`` and ``runs`` (one per precision:
        ``subject``, ``references``, ``ratios``, ``ratio`` (subject /
        main reference), ``target``, breakdowns and memory).
    """
    if stage not in BENCHMARK_STAGES:
        raise ValueError(f'stage must be one of {BENCHMARK_STAGES}, got {stage!r}')
    precisions = [precisions] if isinstance(precisions, str) else list(precisions)
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad or not precisions:
        raise ValueError(f'precision must be among {PRECISIONS}, got {precisions}')
    log = log or (lambda msg: None)
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        # quiet: building a ResNet-50 logs every parameter's initialisation at INFO
        with _log_level(logging.WARNING):
            return _run_stage(config, stage, precisions, batch_size, img_size, iters, warmup,
                              data_root, num_images, num_clusters, device, threads, cfg_options,
                              seed, reference, log, references, reference_views)
    finally:
        torch.set_num_threads(old_threads)


def _run_stage(config, stage, precisions, batch_size, img_size, iters, warmup, data_root,
               num_images, num_clusters, device, threads, cfg_options, seed, reference,
               log, references=None, reference_views=None) -> dict:
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    cfg = load_benchmark_config(config, cfg_options)
    env = environment(device, threads)
    result: Dict[str, object] = OrderedDict(
        stage=stage, config=config if isinstance(config, str) else '<Config>', env=env,
        precision_notes=[], runs=[])
    for precision in precisions:
        if precision == 'bf16' and device == 'cpu' and not env['native_bf16']:
            note = (f'bf16 is emulated on this CPU ({env["bf16_status"]}); it runs because it '
                    'was asked for, expect it far slower than fp32')
            result['precision_notes'].append(note)
            log(f'WARNING: {note}')
    if stage == 'data':
        n_iters = DEFAULT_ITERS['data'] if iters is None else iters
        n_warm = DEFAULT_WARMUP['data'] if warmup is None else warmup
        run = bench_data(cfg, n_iters, n_warm, data_root, num_images, img_size, seed,
                         reference, log)
        run['precision'] = 'n/a (uint8 pipeline)'
        result['runs'].append(run)
    for precision in (precisions if stage != 'data' else []):
        if stage == 'step':
            run = bench_step(cfg, precision, batch_size,
                             img_size, DEFAULT_ITERS['step'] if iters is None else iters,
                             DEFAULT_WARMUP['step'] if warmup is None else warmup, device,
                             seed, reference, log, references, reference_views)
        else:
            run = bench_eval(cfg, precision, num_images or EVAL_NUM_IMAGES,
                             img_size or EVAL_IMG_SIZE, num_clusters, batch_size or 16, device,
                             seed, reference, log)
        run['precision'] = precision
        result['runs'].append(run)
    env['load_average_end'] = _loadavg()
    return result
