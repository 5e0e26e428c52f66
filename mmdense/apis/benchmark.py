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

Entry point: :func:`run_benchmark`; :func:`format_report` renders its result.
"""
import copy
import glob
import logging
import math
import os
import os.path as osp
import platform
import resource
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdense.utils.cpu_features import (bf16_status, cpu_model_name, cpu_native_bf16,
                                        precision_flags)

BENCHMARK_STAGES = ('step', 'data', 'eval')
PRECISIONS = ('fp32', 'bf16')

#: default iterations / warm-up per stage (data: images)
DEFAULT_ITERS = dict(step=10, data=160, eval=1)
DEFAULT_WARMUP = dict(step=2, data=10, eval=0)
#: the COCO-Stuff-27 val set size and evaluation size of SlotCon's protocol
EVAL_NUM_IMAGES = 2175
EVAL_IMG_SIZE = 320
EVAL_NUM_CLUSTERS = 27

#: the issue's targets, checked and reported per stage
TARGETS = dict(
    step=dict(min_ratio=0.40, text='SlotCon step >= 0.40 x torchvision ResNet-50 supervised step'),
    data=dict(min_ratio=2.5, text='data pipeline >= 2.5 x the PIL + torchvision v2 reference'),
    eval=dict(max_seconds=600.,
              text=f'unsupervised segmentation ({EVAL_NUM_IMAGES} images, {EVAL_IMG_SIZE} px, '
                   f'K={EVAL_NUM_CLUSTERS}, one seed) within 10 minutes'),
)

STEP_CONVENTION = (
    'img/s counts source images: a step of the subject on batch B processes B images, each as '
    'V views (the views go through the student, and through the teacher when there is one); a '
    'supervised reference step on batch B processes B images of the same size, one view each. '
    'For SlotCon (2 views: student fwd+bwd = 2 x 3 units, teacher fwd = 2 x 1) the FLOP bound '
    'of the ratio is 3/8 = 0.375.')
DATA_CONVENTION = (
    'img/s counts source images, each giving all its views; one process, one thread '
    '(torch and OpenCV), files read from the page cache after the warm-up.')
EVAL_CONVENTION = (
    'Both paths cluster the same features (extracted once, by the protocol). Protocol: '
    'collect_dense_features + kmeans_eval (faiss k-means fit, batched assignment at the label '
    'size). Reference: faiss.Kmeans with the same settings, then per image the features '
    'bilinearly upsampled to the label size and every pixel assigned to its nearest centroid '
    '(numpy), confusion by np.bincount.')

#: Step regions timed on the *built* objects, never by editing the algorithm:
#: ``(where, attribute path, region)``. ``where`` is 'model' or 'optim'; a
#: path the object does not have is skipped. Modules get forward pre/post
#: hooks, methods are wrapped on the instance. The EMA teacher's copies of
#: ``model.teacher_follows`` and the remaining direct children are added per
#: model by :func:`model_regions`.
BENCHMARK_REGIONS: Tuple[Tuple[str, str, str], ...] = (
    ('optim', 'optim_context', 'forward'),  # whole forward: preprocess, model, losses
    ('model', 'data_preprocessor', 'preprocess'),
    ('model', 'update_teacher', 'ema'),
    ('model', 'parse_losses', 'loss parse + finite check'),
    ('optim', 'backward', 'backward'),
    ('optim', 'step', 'optimizer.step'),
    ('optim', 'zero_grad', 'optimizer.zero_grad'),
)
#: methods of any direct child of the model timed under a region, e.g. the
#: grouping loss's centre update (SlotCon, DINO-style losses)
CHILD_METHOD_REGIONS = (('update_center', 'centre'), )

Log = Callable[[str], None]


# --------------------------------------------------------------------------
# environment and memory
# --------------------------------------------------------------------------
def environment(device: str, threads: Optional[int] = None) -> dict:
    """CPU model, precision flags, versions, threads, load: printed first."""
    try:
        import torchvision
        tv_version = torchvision.__version__
    except Exception:  # pragma: no cover
        tv_version = None
    env = OrderedDict(
        cpu=cpu_model_name(),
        logical_cpus=os.cpu_count(),
        precision_flags=precision_flags(),
        native_bf16=cpu_native_bf16(),
        bf16_status=bf16_status(),
        torch=torch.__version__,
        torchvision=tv_version,
        python=platform.python_version(),
        torch_threads=threads or torch.get_num_threads(),
        device=device,
        load_average=_loadavg(),
    )
    if device.startswith('cuda'):
        env['gpu'] = torch.cuda.get_device_name(torch.device(device))
    return env


def _loadavg() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _peak_rss_mib() -> float:
    """Peak resident memory of this process (since the last reset), MiB."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.
    except OSError:
        pass
    try:  # pragma: no cover - non-Linux
        import psutil
        info = psutil.Process().memory_info()
        return getattr(info, 'peak_wset', info.rss) / 2**20
    except Exception:  # pragma: no cover
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.


class MemoryProbe:
    """Peak host RSS (and CUDA ``max_memory_allocated``) of one phase, and the
    share of the CPUs the process got (process CPU time / (wall x threads))."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith('cuda')
        self.device = device

    def __enter__(self) -> 'MemoryProbe':
        self.reset = _reset_peak_rss()
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        self.threads = torch.get_num_threads()
        self.cpu0, self.wall0 = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self.wall0
        self.cpu_share = round((time.process_time() - self.cpu0) / max(wall * self.threads,
                                                                       1e-9), 3)
        self.peak_rss_mib = round(_peak_rss_mib(), 1)
        self.cuda_peak_mib = None
        if self.cuda:
            self.cuda_peak_mib = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)

    def as_dict(self) -> dict:
        return dict(peak_rss_mib=self.peak_rss_mib, peak_rss_per_phase=self.reset,
                    cuda_peak_mib=self.cuda_peak_mib, cpu_share=self.cpu_share)


@contextmanager
def _log_level(level: int):
    """Raise the current mmengine logger's level to at least ``level``."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    old = logger.level
    logger.setLevel(max(old, level))
    try:
        yield
    finally:
        logger.setLevel(old)


def _sync_fn(device: str) -> Callable[[], None]:
    if device.startswith('cuda'):
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------
class RegionTimer:
    """Wall-clock regions, nested, reported as exclusive (self) time.

    Every region is also a ``torch.profiler.record_function`` range
    (``benchmark::<name>``), so a profiler trace shows the same phases.
    """

    def __init__(self, sync: Callable[[], None] = lambda: None) -> None:
        self.sync = sync
        self.totals: Dict[str, float] = OrderedDict()
        self._stack: List[list] = []
        self.enabled = True

    def reset(self) -> None:
        self.totals = OrderedDict((k, 0.) for k in self.totals)

    def push(self, name: str) -> None:
        if not self.enabled:
            return
        self.sync()
        rf = torch.profiler.record_function(f'benchmark::{name}')
        rf.__enter__()
        self._stack.append([name, time.perf_counter(), 0., rf])

    def pop(self, name: str) -> None:
        if not self.enabled or not self._stack:
            return
        self.sync()
        top, start, child, rf = self._stack.pop()
        rf.__exit__(None, None, None)
        elapsed = time.perf_counter() - start
        self.totals[top] = self.totals.get(top, 0.) + elapsed - child
        if self._stack:
            self._stack[-1][2] += elapsed

    @contextmanager
    def region(self, name: str):
        self.push(name)
        try:
            yield
        finally:
            self.pop(name)


def _get_path(obj, path: str):
    for part in path.split('.'):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class _Instrumentation:
    """Hooks and wrapped methods put on built objects; removed by :meth:`remove`."""

    def __init__(self, timer: RegionTimer) -> None:
        self.timer = timer
        self.handles = []
        self.patched: List[Tuple[object, str]] = []
        self.names: List[str] = []

    def module(self, module: nn.Module, region: str) -> None:
        timer = self.timer
        self.handles.append(module.register_forward_pre_hook(lambda m, a: timer.push(region)))
        self.handles.append(module.register_forward_hook(lambda m, a, o: timer.pop(region)))
        self.names.append(region)

    def method(self, owner, name: str, region: str) -> None:
        original = getattr(owner, name)
        timer = self.timer
        if name == 'optim_context':
            @contextmanager
            def wrapped(*args, **kwargs):
                with timer.region(region), original(*args, **kwargs):
                    yield
        else:
            def wrapped(*args, **kwargs):
                with timer.region(region):
                    return original(*args, **kwargs)
        setattr(owner, name, wrapped)
        self.patched.append((owner, name))
        self.names.append(region)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        for owner, name in self.patched:
            try:
                delattr(owner, name)
            except AttributeError:  # pragma: no cover
                pass
        self.handles, self.patched = [], []


def model_regions(model: nn.Module) -> List[Tuple[str, str, str]]:
    """:data:`BENCHMARK_REGIONS` plus the student / teacher modules of ``model``.

    ``teacher_follows`` names (e.g. backbone, neck, grouping) give
    ``student.<name>`` and, for the EMA teacher's copies, ``teacher.<name>``;
    every other direct child (predictor, losses, heads) gives
    ``student.<name>`` or ``loss.<name>``.
    """
    regions = list(BENCHMARK_REGIONS)
    follows = tuple(getattr(model, 'teacher_follows', ()) or ())
    teacher = getattr(model, 'teacher', None)
    for name in follows:
        regions.append(('model', name, f'student.{name}'))
        if teacher is not None:
            regions.append(('model', f'teacher.module.{name}', f'teacher.{name}'))
    skip = set(follows) | {'teacher', 'data_preprocessor'}
    for name, child in model.named_children():
        if name in skip:
            continue
        kind = 'loss' if 'loss' in name else 'student'
        regions.append(('model', name, f'{kind}.{name}'))
        for method, region in CHILD_METHOD_REGIONS:
            if callable(getattr(child, method, None)):
                regions.append(('model', f'{name}.{method}', region))
    return regions


def instrument_step(model: nn.Module, optim_wrapper, timer: RegionTimer) -> _Instrumentation:
    """Put the region hooks of :func:`model_regions` on ``model`` and
    ``optim_wrapper`` (undo with ``.remove()``)."""
    inst = _Instrumentation(timer)
    roots = dict(model=model, optim=optim_wrapper)
    for where, path, region in model_regions(model):
        owner_path, _, attr = path.rpartition('.')
        owner = _get_path(roots[where], owner_path) if owner_path else roots[where]
        target = getattr(owner, attr, None) if owner is not None else None
        if target is None:
            continue
        if isinstance(target, nn.Module):
            inst.module(target, region)
        elif callable(target):
            inst.method(owner, attr, region)
    return inst


def _time_interleaved(fns: Dict[str, Callable[[], object]], iters: int, warmup: int,
                      sync: Callable[[], None], device: str = 'cpu',
                      on_warm: Optional[Callable[[], None]] = None,
                      log: Optional[Log] = None) -> Dict[str, dict]:
    """Time several paths under the same machine conditions.

    Each path is warmed up on its own (``warmup`` calls), then the ``iters``
    timed rounds call every path once, the order rotating from round to
    round, so that a load change on a shared machine hits all paths alike.
    Before every call the kernel's peak-RSS mark (and CUDA's peak) is reset,
    so each path's peak is its own (with every benchmarked model resident).

    Returns:
        dict: per path, ``times`` (s), ``cpu`` (process CPU s of the timed
        calls), ``peak_rss_mib``, ``peak_rss_per_call``, ``cuda_peak_mib``.
    """
    cuda = device.startswith('cuda')
    stats = {key: dict(times=[], cpu=0., peak_rss_mib=0., peak_rss_per_call=True,
                       cuda_peak_mib=None) for key in fns}

    def call(key: str, timed: bool) -> float:
        st = stats[key]
        st['peak_rss_per_call'] &= _reset_peak_rss()
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        sync()
        cpu0, start = time.process_time(), time.perf_counter()
        fns[key]()
        sync()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
        st['peak_rss_mib'] = max(st['peak_rss_mib'], round(_peak_rss_mib(), 1))
        if cuda:
            st['cuda_peak_mib'] = max(st['cuda_peak_mib'] or 0., round(
                torch.cuda.max_memory_allocated(device) / 2**20, 1))
        if timed:
            st['times'].append(elapsed)
            st['cpu'] += cpu
        return elapsed

    for key in fns:
        for i in range(warmup):
            elapsed = call(key, False)
            if log is not None:
                log(f'  {key} warm-up {i + 1}/{warmup}: {elapsed:.2f} s')
    if on_warm is not None:
        on_warm()
    keys = list(fns)
    for i in range(iters):
        shift = i % len(keys)
        for key in keys[shift:] + keys[:shift]:
            call(key, True)
    return stats


def _summary(name: str, times: List[float], images_per_iter: int, **extra) -> dict:
    total = float(sum(times))
    out = OrderedDict(
        name=name,
        iters=len(times),
        images_per_iter=images_per_iter,
        seconds=round(total, 4),
        sec_per_iter=round(total / max(len(times), 1), 4),
        sec_per_iter_min=round(min(times), 4) if times else None,
        sec_per_iter_median=round(float(np.median(times)), 4) if times else None,
        img_per_s=round(images_per_iter * len(times) / total, 3) if total > 0 else None,
    )
    out.update(extra)
    return out


def _stats_summary(name: str, stats: dict, images_per_iter: int, threads: int,
                   **extra) -> dict:
    """:func:`_summary` of one path of :func:`_time_interleaved`."""
    wall = sum(stats['times'])
    return _summary(name, stats['times'], images_per_iter,
                    peak_rss_mib=stats['peak_rss_mib'],
                    peak_rss_per_call=stats['peak_rss_per_call'],
                    cuda_peak_mib=stats['cuda_peak_mib'],
                    cpu_share=round(stats['cpu'] / max(wall * threads, 1e-9), 3), **extra)


def _autocast(device: str, precision: str):
    if precision == 'bf16':
        return torch.autocast(device_type=device.split(':')[0], dtype=torch.bfloat16)
    return torch.autocast(device_type=device.split(':')[0], enabled=False)


# --------------------------------------------------------------------------
# config helpers
# --------------------------------------------------------------------------
def load_benchmark_config(config, cfg_options: Optional[dict] = None):
    """The config (path or ``Config``), options merged, mmdense's scope set."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmdense.utils import register_all_modules
    cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdense'))
    return cfg


def _train_pipeline(cfg) -> list:
    try:
        pipeline = cfg.train_dataloader.dataset.pipeline
    except AttributeError:
        pipeline = None
    if not pipeline:
        raise ValueError('the config has no train_dataloader.dataset.pipeline')
    return [copy.deepcopy(t) for t in pipeline]


def _find_transform(pipeline, names: Sequence[str]) -> Optional[dict]:
    """The first transform config whose type is one of ``names``
    (searching ``RandomApply`` / ``ViewwisePipeline`` contents too)."""
    for t in pipeline or []:
        if not isinstance(t, dict):
            continue
        kind = str(t.get('type', '')).split('.')[-1]
        if kind in names:
            return t
        for key in ('transforms', ):
            found = _find_transform(t.get(key), names)
            if found is not None:
                return found
    return None


def view_layout(cfg, img_size: Optional[int] = None) -> List[int]:
    """Square size of every view of the config's multi-view crop, in order.

    ``img_size`` replaces the size of the first view group (the global
    views); other groups keep theirs. Without a multi-view crop: 2 views.
    """
    try:
        pipeline = _train_pipeline(cfg)
    except ValueError:
        pipeline = []
    crop = _find_transform(pipeline, ('MultiViewRandomResizedCrop', 'TwoViewRandomResizedCrop'))
    groups = []
    if crop is not None:
        if 'view_groups' in crop:
            groups = [(int(g.get('num_views', 1)), g.get('size', 224)) for g in crop['view_groups']]
        else:
            groups = [(int(crop.get('num_views', 2)), crop.get('size', 224))]
    if not groups:
        groups = [(2, 224)]
    sizes = []
    for i, (num, size) in enumerate(groups):
        size = size[0] if isinstance(size, (tuple, list)) else size
        if i == 0 and img_size is not None:
            size = img_size
        sizes += [int(size)] * num
    return sizes


def _optim_wrapper_cfg(cfg, precision: str, device: str) -> dict:
    """The config's ``optim_wrapper`` at ``precision`` on ``device``.

    fp32: ``OptimWrapper`` (AMP keys dropped). bf16: ``CPUAmpOptimWrapper``
    with ``force=True`` on CPU (asked for explicitly, so it runs even where
    bf16 is emulated), ``AmpOptimWrapper(dtype='bfloat16')`` on a GPU.
    """
    if cfg.get('optim_wrapper') is None:
        raise ValueError('the config has no optim_wrapper')
    wrapper = copy.deepcopy(dict(cfg.optim_wrapper))
    kind = str(wrapper.get('type', 'OptimWrapper')).split('.')[-1]
    amp_keys = ('loss_scale', 'dtype', 'force', 'use_fsdp')
    if precision == 'fp32':
        if kind in ('AmpOptimWrapper', 'CPUAmpOptimWrapper'):
            wrapper['type'] = 'OptimWrapper'
            for key in amp_keys:
                wrapper.pop(key, None)
        return wrapper
    for key in amp_keys:
        wrapper.pop(key, None)
    if device.startswith('cuda'):
        wrapper.update(type='AmpOptimWrapper', dtype='bfloat16')
    else:
        wrapper.update(type='CPUAmpOptimWrapper', dtype='bfloat16', force=True)
    return wrapper


def _backbone_desc(backbone_cfg: dict) -> str:
    kind = str(backbone_cfg.get('type', '?')).split('.')[-1]
    depth = backbone_cfg.get('depth') or backbone_cfg.get('arch')
    return f'{kind}-{depth}' if depth is not None else kind


def _is_plain_resnet50(backbone_cfg: dict) -> bool:
    kind = str(backbone_cfg.get('type', '')).split('.')[-1]
    return kind in ('ResNet', 'ResNetV1c', 'ResNetV1d') and backbone_cfg.get('depth') == 50


# --------------------------------------------------------------------------
# stage: step
# --------------------------------------------------------------------------
def synthetic_view_batch(batch_size: int, view_sizes: Sequence[int], seed: int = 0,
                         device: str = 'cpu') -> dict:
    """A collated batch as ``PackMultiViewInputs`` + ``default_collate`` make it.

    ``inputs``: one ``(B, 3, s, s)`` uint8 tensor per view; ``data_samples``:
    mmpretrain ``DataSample`` with ``view_crops`` ``(V, 4)`` (original-image
    pixels; all crops of an image share its centre region, so every pair
    overlaps), ``view_flips``, ``view_sizes`` and ``view_group_ids``.
    """
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (batch_size, 3, s, s), generator=gen,
                            dtype=torch.uint8).to(device) for s in view_sizes]
    rng = np.random.default_rng(seed)
    num_views = len(view_sizes)
    groups, g = [], 0
    for i, s in enumerate(view_sizes):
        if i and s != view_sizes[i - 1]:
            g += 1
        groups.append(g)
    samples = []
    for _ in range(batch_size):
        side = 2. * max(view_sizes)  # original image
        lo = rng.uniform(0, 0.4 * side, size=(num_views, 2)).round()
        hi = np.minimum(lo + rng.uniform(0.6 * side, side, size=(num_views, 2)).round(), side)
        sample = DataSample()
        sample.set_field(np.concatenate([lo, hi], axis=1).astype(np.float32), 'view_crops')
        sample.set_field(rng.random(num_views) < 0.5, 'view_flips')
        sample.set_field(np.array([[s, s] for s in view_sizes], np.int64), 'view_sizes')
        sample.set_field(np.array(groups, np.int64), 'view_group_ids')
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


class _SupervisedClassifier(nn.Module):
    """Backbone -> global average pooling -> linear classifier."""

    def __init__(self, backbone: nn.Module, channels: int, num_classes: int = 1000) -> None:
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.backbone(x)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        if out.dim() == 4:
            out = out.mean((2, 3))
        elif out.dim() == 3:  # tokens
            out = out.mean(1)
        return self.fc(out)


def _same_backbone_classifier(backbone_cfg: dict) -> nn.Module:
    from mmdense.registry import MODELS
    backbone = MODELS.build(copy.deepcopy(backbone_cfg))
    if hasattr(backbone, 'init_weights'):
        backbone.init_weights()
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, 64, 64))
    backbone.train(was_training)
    out = out[-1] if isinstance(out, (tuple, list)) else out
    channels = out.shape[1] if out.dim() == 4 else out.shape[-1]
    return _SupervisedClassifier(backbone, int(channels))


def _supervised_step_fn(net: nn.Module, batch: torch.Tensor, precision: str,
                        device: str) -> Callable[[], float]:
    """One SGD step of ``net`` on ``batch`` (uint8, normalised in the step)."""
    net.to(device).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    mean = torch.tensor([123.675, 116.28, 103.53], device=device).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375], device=device).view(1, 3, 1, 1)
    gen = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 1000, (batch.shape[0], ), generator=gen).to(device)

    def step() -> float:
        x = (batch.float() - mean) / std
        with _autocast(device, precision):
            loss = F.cross_entropy(net(x), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def bench_step(cfg, precision: str, batch_size: Optional[int], img_size: Optional[int],
               iters: int, warmup: int, device: str, seed: int = 0, reference: bool = True,
               log: Log = print) -> dict:
    """The ``step`` stage at one precision (see the module docstring)."""
    from mmengine.optim import build_optim_wrapper

    from mmdense.registry import MODELS

    if batch_size is None:
        batch_size = int(cfg.train_dataloader.batch_size)
    sizes = view_layout(cfg, img_size)
    sync = _sync_fn(device)
    batch = synthetic_view_batch(batch_size, sizes, seed=seed, device=device)
    backbone_cfg = copy.deepcopy(dict(cfg.model.backbone))
    results: Dict[str, object] = OrderedDict(
        batch_size=batch_size, view_sizes=sizes, convention=STEP_CONVENTION)

    # build every path first: they are timed interleaved (see _time_interleaved)
    paths: Dict[str, Callable[[], object]] = OrderedDict()
    names: Dict[str, str] = {}
    if reference:
        ref_batch = batch['inputs'][0]  # B images at the first (global) view size
        candidates = [(f'supervised step, same backbone ({_backbone_desc(backbone_cfg)}) + '
                       'GAP + linear + CE, SGD', lambda: _same_backbone_classifier(backbone_cfg),
                       'same_backbone')]
        if _is_plain_resnet50(backbone_cfg):
            import torchvision
            candidates.append(('supervised step, torchvision ResNet-50, CE, SGD',
                               lambda: torchvision.models.resnet50(weights=None),
                               'torchvision_resnet50'))
        for name, build, key in candidates:
            torch.manual_seed(seed)
            paths[key] = _supervised_step_fn(build(), ref_batch, precision, device)
            names[key] = name

    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    if hasattr(model, 'init_weights'):
        model.init_weights()
    model.to(device).train()
    wrapper_cfg = _optim_wrapper_cfg(cfg, precision, device)
    with _log_level(logging.ERROR):  # one 'requires_grad=False' line per teacher parameter
        optim_wrapper = build_optim_wrapper(model, copy.deepcopy(wrapper_cfg))
    timer = RegionTimer(sync)

    def subject_step():
        with timer.region('train_step'):
            log_vars = model.train_step(batch, optim_wrapper)
        with timer.region('logging'):
            return {k: float(v.detach()) if torch.is_tensor(v) else float(v)  # as the logger does
                    for k, v in log_vars.items()}

    name = f'{type(model).__name__} train_step ({len(sizes)} views, {wrapper_cfg["type"]})'
    paths = OrderedDict([('subject', subject_step)] + list(paths.items()))
    log(f'[step/{precision}] subject: {name}')
    for key in paths:
        if key != 'subject':
            log(f'[step/{precision}] reference {key}: {names[key]}')
    log(f'[step/{precision}] {warmup} warm-up step(s) each, then {iters} interleaved rounds')
    inst = instrument_step(model, optim_wrapper, timer)
    try:
        stats = _time_interleaved(paths, iters, warmup, sync, device, on_warm=timer.reset,
                                  log=log)
    finally:
        inst.remove()
    threads = torch.get_num_threads()
    references = [_stats_summary(names[key], stats[key], batch_size, threads, key=key,
                                 images_size=sizes[0]) for key in paths if key != 'subject']
    times = stats['subject']['times']
    subject = _stats_summary(name, stats['subject'], batch_size, threads,
                             views_per_image=len(sizes), view_img_per_s=None,
                             optim_wrapper=wrapper_cfg['type'],
                             autocast=bool(getattr(optim_wrapper, 'autocast_enabled',
                                                   precision == 'bf16')))
    if subject['img_per_s']:
        subject['view_img_per_s'] = round(subject['img_per_s'] * len(sizes), 3)
    subject['breakdown_ms'] = _step_breakdown(timer.totals, len(times), subject['sec_per_iter'])
    results['subject'] = subject
    results['references'] = references
    _ratios(results, prefer='torchvision_resnet50')
    target = TARGETS['step']
    main = results.get('ratio')
    results['target'] = dict(text=target['text'], ratio=main,
                             met=None if main is None or results.get('ratio_vs') !=
                             'torchvision_resnet50' else bool(main >= target['min_ratio']))
    return results


def _step_breakdown(totals: Dict[str, float], iters: int, sec_per_iter: float) -> OrderedDict:
    """ms per iteration of every region (exclusive), grouped into phases."""
    per = OrderedDict((k, 1e3 * v / max(iters, 1)) for k, v in totals.items())
    teacher = sum(v for k, v in per.items() if k.startswith('teacher.'))
    phases = OrderedDict()
    phases['data (synthetic: none)'] = 0.
    fwd_keys = [k for k in per if k in ('forward', 'preprocess') or k.startswith('student.')
                or k.startswith('loss.')]
    phases['forward: student + losses + glue'] = sum(per[k] for k in fwd_keys)
    phases['forward: teacher'] = teacher
    phases['EMA / centre'] = per.get('ema', 0.) + per.get('centre', 0.)
    phases['loss parse + finite check'] = per.get('loss parse + finite check', 0.)
    phases['backward'] = per.get('backward', 0.)
    phases['optimizer (step + zero_grad)'] = (per.get('optimizer.step', 0.) +
                                              per.get('optimizer.zero_grad', 0.))
    phases['logging (log_vars to floats)'] = per.get('logging', 0.)
    phases['other (train_step glue)'] = per.get('train_step', 0.)
    out = OrderedDict()
    out['phases'] = OrderedDict((k, round(v, 2)) for k, v in phases.items())
    out['regions'] = OrderedDict((k, round(v, 2)) for k, v in per.items())
    out['total_ms'] = round(1e3 * sec_per_iter, 2)
    out['unaccounted_ms'] = round(1e3 * sec_per_iter - sum(phases.values()), 2)
    return out


def _ratios(results: dict, prefer: Optional[str] = None) -> None:
    subject = results['subject']
    refs = results.get('references') or []
    results['ratios'] = OrderedDict()
    for ref in refs:
        if subject.get('img_per_s') and ref.get('img_per_s'):
            results['ratios'][ref['key']] = round(subject['img_per_s'] / ref['img_per_s'], 4)
    main = None
    for ref in refs:
        if ref['key'] == prefer:
            main = ref['key']
    if main is None and refs:
        main = refs[0]['key']
    results['ratio_vs'] = main
    results['ratio'] = results['ratios'].get(main) if main else None


# --------------------------------------------------------------------------
# stage: data
# --------------------------------------------------------------------------
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def default_data_roots() -> List[str]:
    """Where the real COCO subset is looked for (first hit wins)."""
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    shared = osp.join(osp.dirname(repo), 'shared', 'data', 'coco_tiny')
    return [osp.join(shared, 'images'), osp.join(shared, 'train2017'),
            osp.join(repo, 'data', 'coco', 'train2017')]


def list_images(data_root: Optional[str] = None, limit: Optional[int] = None) -> List[str]:
    """Sorted image files of ``data_root`` (recursively when the folder itself
    holds none); without it, of the first of :func:`default_data_roots`
    that has images."""
    roots = [data_root] if data_root else default_data_roots()
    for root in roots:
        if not root or not osp.isdir(root):
            continue
        files = sorted(f for f in glob.glob(osp.join(root, '*'))
                       if f.lower().endswith(IMAGE_EXTS))
        if not files:
            files = sorted(f for f in glob.glob(osp.join(root, '**', '*'), recursive=True)
                           if f.lower().endswith(IMAGE_EXTS))
        if files:
            return files[:limit] if limit else files
    raise FileNotFoundError(f'no images found in {roots}; pass --data-root DIR')


def _pipeline_settings(pipeline) -> dict:
    """What the reference copies from the config's two-view pipeline."""
    crop = _find_transform(pipeline, ('MultiViewRandomResizedCrop', 'TwoViewRandomResizedCrop'))
    group = dict(size=224, scale=(0.08, 1.0), ratio=(3. / 4., 4. / 3.), flip_prob=0.5)
    if crop is not None:
        first = crop['view_groups'][0] if 'view_groups' in crop else crop
        for key in group:
            if key in first:
                group[key] = first[key]
    size = group['size'][0] if isinstance(group['size'], (tuple, list)) else group['size']
    settings = dict(size=int(size), scale=tuple(group['scale']), ratio=tuple(group['ratio']),
                    flip_prob=float(group['flip_prob']),
                    jitter=(0.4, 0.4, 0.2, 0.1), jitter_prob=0.8, gray_prob=0.2,
                    blur_prob=[1.0, 0.1], solarize_prob=[0.0, 0.2])
    viewwise = _find_transform(pipeline, ('ViewwisePipeline', ))
    views = (viewwise or {}).get('view_pipelines') or []
    for v, view in enumerate(views[:2]):
        blur = _find_transform(view, ('GaussianBlur', ))
        if blur is not None:
            settings['blur_prob'][v] = float(blur.get('prob', 1.0))
        sol = _find_transform(view, ('Solarize', ))
        if sol is not None:
            settings['solarize_prob'][v] = float(sol.get('prob', 1.0))
        if v == 0:
            jitter = _find_transform(view, ('ColorJitter', ))
            if jitter is not None:
                settings['jitter'] = tuple(float(jitter.get(k, 0.)) for k in
                                           ('brightness', 'contrast', 'saturation', 'hue'))
            for t in view:
                if str(t.get('type', '')).endswith('RandomApply'):
                    settings['jitter_prob'] = float(t.get('prob', 0.8))
            gray = _find_transform(view, ('RandomGrayscale', ))
            if gray is not None:
                settings['gray_prob'] = float(gray.get('prob', 0.2))
    return settings


def reference_two_view_transform(settings: dict):
    """PIL image -> two uint8 tensor views with ``torchvision.transforms.v2``."""
    from torchvision.transforms import InterpolationMode, v2
    size = settings['size']
    kernel = max(3, int(0.1 * size) // 2 * 2 + 1)  # BYOL: 23 at 224

    def view(blur_p: float, sol_p: float):
        return v2.Compose([
            v2.RandomResizedCrop(size, scale=settings['scale'], ratio=settings['ratio'],
                                 interpolation=InterpolationMode.BICUBIC, antialias=True),
            v2.RandomHorizontalFlip(settings['flip_prob']),
            v2.RandomApply([v2.ColorJitter(*settings['jitter'])], p=settings['jitter_prob']),
            v2.RandomGrayscale(settings['gray_prob']),
            v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=blur_p),
            v2.RandomSolarize(128, p=sol_p),
            v2.ToImage(),  # uint8 (C, H, W)
        ])

    views = [view(settings['blur_prob'][i], settings['solarize_prob'][i]) for i in range(2)]

    def transform(img):
        return [t(img) for t in views]

    return transform


@contextmanager
def _single_thread():
    """torch and OpenCV on one thread (the data stage is per core)."""
    old_torch = torch.get_num_threads()
    try:
        import cv2
        old_cv2 = cv2.getNumThreads()
    except Exception:  # pragma: no cover
        cv2, old_cv2 = None, None
    torch.set_num_threads(1)
    if cv2 is not None:
        cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old_torch)
        if cv2 is not None:
            cv2.setNumThreads(old_cv2)


def bench_data(cfg, iters: int, warmup: int, data_root: Optional[str] = None,
               num_images: Optional[int] = None, img_size: Optional[int] = None,
               seed: int = 0, reference: bool = True, log: Log = print) -> dict:
    """The ``data`` stage (see the module docstring)."""
    import random

    from mmengine.dataset import Compose
    from PIL import Image

    files = list_images(data_root, num_images)
    pipeline_cfg = _train_pipeline(cfg)
    if img_size is not None:
        crop = _find_transform(pipeline_cfg, ('MultiViewRandomResizedCrop',
                                              'TwoViewRandomResizedCrop'))
        if crop is not None and 'view_groups' in crop:
            crop['view_groups'][0]['size'] = int(img_size)
        elif crop is not None:
            crop['size'] = int(img_size)
    first = str(pipeline_cfg[0].get('type', '')) if pipeline_cfg else ''
    loads = 'Load' in first
    pipeline = Compose(pipeline_cfg)
    settings = _pipeline_settings(pipeline_cfg)
    results: Dict[str, object] = OrderedDict(
        data_root=osp.dirname(files[0]), num_files=len(files), view_size=settings['size'],
        convention=DATA_CONVENTION,
        decode='the pipeline\'s own loading transform' if loads else
        'mmcv.imread (BGR, cv2) before the pipeline: it has no loading transform')

    def subject_one(i: int):
        path = files[i % len(files)]
        if loads:
            out = pipeline(dict(img_path=path, sample_idx=i))
        else:
            import mmcv
            img = mmcv.imread(path, channel_order='bgr')
            out = pipeline(dict(img=img, img_path=path, img_shape=img.shape[:2],
                                ori_shape=img.shape[:2], sample_idx=i))
        if out is None:
            raise RuntimeError(f'the pipeline dropped {path}')
        return out

    transform = reference_two_view_transform(settings)

    def reference_one(i: int):
        with Image.open(files[i % len(files)]) as img:
            return transform(img.convert('RGB'))

    counters = dict(subject=iter(range(10**9)), reference=iter(range(10**9)))
    paths: Dict[str, Callable[[], object]] = OrderedDict(
        subject=lambda: subject_one(next(counters['subject'])))
    if reference:
        paths['pil_tv2'] = lambda: reference_one(next(counters['reference']))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    log(f'[data] {len(files)} files; {warmup} warm-up image(s) each, then {iters} images '
        'per path, interleaved, one thread')
    with _single_thread():
        stats = _time_interleaved(paths, iters, warmup, lambda: None)
    names = ' -> '.join(str(t.get('type')) for t in pipeline_cfg)
    results['subject'] = _stats_summary(f'config pipeline: {names}', stats['subject'], 1, 1)
    refs = []
    if reference:
        refs.append(_stats_summary(
            'PIL decode + torchvision.transforms.v2 (RandomResizedCrop bicubic antialias, flip, '
            'ColorJitter p.8, grayscale .2, blur, solarize, ToImage uint8), two views',
            stats['pil_tv2'], 1, 1, key='pil_tv2',
            settings={k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}))
    results['references'] = refs
    _ratios(results)
    ratio = results.get('ratio')
    results['target'] = dict(text=TARGETS['data']['text'], ratio=ratio,
                             met=None if ratio is None else bool(ratio >= TARGETS['data']
                                                                 ['min_ratio']))
    return results


# --------------------------------------------------------------------------
# stage: eval
# --------------------------------------------------------------------------
class GeneratedSegLoader:
    """Batches of generated images with label maps, in mmseg's layout.

    Image ``i`` is seeded by ``i`` (uint8 noise over a few smooth blobs);
    its label map is ``num_classes`` ids in square blocks. Generation time is
    accumulated in :attr:`gen_seconds` (subtracted from the extraction).
    """

    def __init__(self, num_images: int, img_size: int, num_classes: int,
                 batch_size: int = 16) -> None:
        self.num_images = int(num_images)
        self.img_size = int(img_size)
        self.num_classes = int(num_classes)
        self.batch_size = int(batch_size)
        self.gen_seconds = 0.
        self.dataset = self  # progress bars read len(loader.dataset)

    def __len__(self) -> int:
        return self.num_images

    def _sample(self, i: int):
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        gen = torch.Generator().manual_seed(i)
        s = self.img_size
        low = torch.rand(1, 3, 4, 4, generator=gen)
        img = F.interpolate(low, size=(s, s), mode='bilinear', align_corners=False)[0]
        img = (img * 200 + torch.rand(3, s, s, generator=gen) * 55).to(torch.uint8)
        block = max(1, s // 8)
        cells = torch.randint(0, self.num_classes, (1, math.ceil(s / block), math.ceil(s / block)),
                              generator=gen, dtype=torch.uint8)
        label = cells.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :s, :s]
        sample = SegDataSample(metainfo=dict(img_path='', ori_shape=(s, s), img_shape=(s, s)))
        sample.gt_sem_seg = PixelData(data=label.contiguous())
        return img, sample

    def __iter__(self):
        for start in range(0, self.num_images, self.batch_size):
            t0 = time.perf_counter()
            items = [self._sample(i) for i in range(start, min(start + self.batch_size,
                                                               self.num_images))]
            self.gen_seconds += time.perf_counter() - t0
            yield dict(inputs=[x for x, _ in items], data_samples=[s for _, s in items])


@contextmanager
def _timed_functions(module, names: Dict[str, str], totals: Dict[str, float]):
    """Temporarily wrap ``module.<name>`` functions to add their wall-clock
    time to ``totals[region]`` (timing the protocol without editing it)."""
    originals = {name: getattr(module, name) for name in names}

    def wrap(name, region):
        original = originals[name]

        def wrapped(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[region] = totals.get(region, 0.) + time.perf_counter() - start
        return wrapped

    for name, region in names.items():
        setattr(module, name, wrap(name, region))
    try:
        yield totals
    finally:
        for name, original in originals.items():
            setattr(module, name, original)


def reference_kmeans_eval(features: Sequence[torch.Tensor], labels: Sequence[np.ndarray],
                          num_clusters: int, num_classes: int, seed: int = 0, niter: int = 30,
                          max_fit_samples: Optional[int] = 1_000_000,
                          ignore_index: int = 255) -> Tuple[dict, Dict[str, float]]:
    """Direct faiss fit + per-pixel numpy assignment of ``features``.

    Returns:
        tuple: the scores (``mIoU``, ``pAcc``) and the seconds of each part
        (``gather``, ``fit``, ``assign``, ``score``).
    """
    import faiss

    from mmdense.evaluation.functional.unsup_seg import match_and_score
    times = OrderedDict()
    t0 = time.perf_counter()
    flat = np.ascontiguousarray(
        torch.cat([f.flatten(1).t() for f in features]).numpy(), dtype=np.float32)
    if max_fit_samples is not None and len(flat) > max_fit_samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(flat), int(max_fit_samples),
                                                          replace=False))
        flat = flat[keep]
    times['gather'] = time.perf_counter() - t0

    t0 = time.perf_counter()
    extra = {}
    if hasattr(faiss, 'ClusteringInitMethod_KMEANS_PLUS_PLUS') and hasattr(
            faiss.ClusteringParameters(), 'init_method'):
        extra['init_method'] = faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS
    kmeans = faiss.Kmeans(flat.shape[1], int(num_clusters), niter=int(niter), seed=int(seed),
                          max_points_per_centroid=max(256, math.ceil(len(flat) /
                                                                     num_clusters) + 1),
                          min_points_per_centroid=1, **extra)
    kmeans.train(flat)
    centroids = np.ascontiguousarray(kmeans.centroids, dtype=np.float32)
    times['fit'] = time.perf_counter() - t0

    t0 = time.perf_counter()
    half_norm = 0.5 * (centroids * centroids).sum(1)
    confusion = np.zeros((num_clusters, num_classes), np.int64)
    for feat, gt in zip(features, labels):
        gt = np.asarray(gt)
        up = F.interpolate(feat[None].float(), size=gt.shape, mode='bilinear',
                           align_corners=False)[0]
        pixels = up.reshape(up.shape[0], -1).t().numpy()  # (HW, D)
        pred = np.argmax(pixels @ centroids.T - half_norm, axis=1)
        gt = gt.reshape(-1).astype(np.int64)
        valid = (gt != ignore_index) & (gt >= 0) & (gt < num_classes)
        confusion += np.bincount(pred[valid] * num_classes + gt[valid],
                                 minlength=num_clusters * num_classes).reshape(
                                     num_clusters, num_classes)
    times['assign'] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = match_and_score(confusion, 'auto')
    times['score'] = time.perf_counter() - t0
    return dict(mIoU=float(scores['mIoU']), pAcc=float(scores['pAcc'])), times


def bench_eval(cfg, precision: str, num_images: int, img_size: int, num_clusters: int,
               batch_size: int, device: str, seed: int = 0, reference: bool = True,
               log: Log = print) -> dict:
    """The ``eval`` stage at one precision (see the module docstring)."""
    from mmdense.evaluation.dense import protocols
    from mmdense.evaluation.dense.features import collect_dense_features
    from mmdense.registry import MODELS

    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    if hasattr(model, 'init_weights'):
        model.init_weights()
    # as the analysis tools build it (build_model_from_config): channels-last convolutions
    model.to(device).eval().to(memory_format=torch.channels_last)
    num_classes = int(num_clusters)
    loader = GeneratedSegLoader(num_images, img_size, num_classes, batch_size)
    results: Dict[str, object] = OrderedDict(
        num_images=num_images, img_size=img_size, num_clusters=num_clusters,
        num_classes=num_classes, seeds=[seed], batch_size=batch_size,
        convention=EVAL_CONVENTION)

    log(f'[eval/{precision}] feature extraction: {num_images} images of {img_size} px')
    with MemoryProbe(device) as mem:
        t0 = time.perf_counter()
        with _autocast(device, precision):
            bank = collect_dense_features(model, loader, source='auto', normalize=True,
                                          progress=False)
        extract = time.perf_counter() - t0 - loader.gen_seconds
        log(f'[eval/{precision}] protocol: kmeans_eval (K={num_clusters}, seed {seed})')
        totals: Dict[str, float] = OrderedDict()
        t0 = time.perf_counter()
        with _timed_functions(protocols, dict(kmeans_fit='fit', dense_confusion='assign'),
                              totals):
            summary = protocols.kmeans_eval(bank, num_classes, num_clusters, seeds=[seed],
                                            progress=False)[0]
        cluster = time.perf_counter() - t0
    fdim = tuple(bank.features[0].shape)
    breakdown = OrderedDict(
        extract=round(extract, 3), fit=round(totals.get('fit', 0.), 3),
        assign=round(totals.get('assign', 0.), 3),
        other=round(cluster - totals.get('fit', 0.) - totals.get('assign', 0.), 3))
    total = extract + cluster
    results['feature_shape'] = list(fdim)
    results['generation_seconds'] = round(loader.gen_seconds, 3)
    results['subject'] = OrderedDict(
        name='protocol: collect_dense_features + kmeans_eval', seconds=round(total, 3),
        clustering_seconds=round(cluster, 3), breakdown_s=breakdown,
        img_per_s=round(num_images / total, 3), mIoU=round(summary['mIoU'], 3),
        pAcc=round(summary['pAcc'], 3), **mem.as_dict())
    refs = []
    if reference:
        log(f'[eval/{precision}] reference: faiss fit + numpy per-pixel assignment')
        with MemoryProbe(device) as mem:
            scores, parts = reference_kmeans_eval(bank.features, bank.labels, num_clusters,
                                                  num_classes, seed=seed)
        ref_cluster = sum(parts.values())
        refs.append(OrderedDict(
            name='reference: faiss.Kmeans + numpy nearest centroid per upsampled pixel',
            key='faiss_numpy', seconds=round(extract + ref_cluster, 3),
            clustering_seconds=round(ref_cluster, 3),
            breakdown_s=OrderedDict([('extract (shared)', round(extract, 3))] +
                                    [(k, round(v, 3)) for k, v in parts.items()]),
            img_per_s=round(num_images / (extract + ref_cluster), 3),
            mIoU=round(scores['mIoU'], 3), pAcc=round(scores['pAcc'], 3), **mem.as_dict()))
    results['references'] = refs
    _ratios(results)
    if refs:
        results['clustering_speedup'] = round(refs[0]['clustering_seconds'] /
                                              max(cluster, 1e-9), 3)
    scale = (EVAL_NUM_IMAGES / num_images) * (EVAL_IMG_SIZE / img_size)**2
    exact = num_images == EVAL_NUM_IMAGES and img_size == EVAL_IMG_SIZE
    projected = total * scale
    results['target'] = dict(
        text=TARGETS['eval']['text'], seconds=round(total, 3),
        projected_seconds=round(projected, 1), projected=not exact,
        projection=None if exact else (
            f'linear in images x pixels from {num_images} x {img_size}^2 to '
            f'{EVAL_NUM_IMAGES} x {EVAL_IMG_SIZE}^2 (x{scale:.2f})'),
        met=bool(projected <= TARGETS['eval']['max_seconds']))
    del model, bank
    return results


# --------------------------------------------------------------------------
# entry point and report
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
                  log: Optional[Log] = print) -> dict:
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
                              seed, reference, log)
    finally:
        torch.set_num_threads(old_threads)


def _run_stage(config, stage, precisions, batch_size, img_size, iters, warmup, data_root,
               num_images, num_clusters, device, threads, cfg_options, seed, reference,
               log) -> dict:
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
                             seed, reference, log)
        else:
            run = bench_eval(cfg, precision, num_images or EVAL_NUM_IMAGES,
                             img_size or EVAL_IMG_SIZE, num_clusters, batch_size or 16, device,
                             seed, reference, log)
        run['precision'] = precision
        result['runs'].append(run)
    env['load_average_end'] = _loadavg()
    return result


def _fmt(value, spec: str = '.3f') -> str:
    return '-' if value is None else format(value, spec)


def _pct(share) -> str:
    return '-' if share is None else f'{100. * share:.0f}%'


def format_report(result: dict) -> str:
    """Plain-text report of :func:`run_benchmark`'s result."""
    env = result['env']
    flags = ', '.join(f"{k} {'yes' if v else 'no'}" for k, v in env['precision_flags'].items())
    lines = [
        f"== mmdense benchmark: stage {result['stage']}, {result['config']}",
        f"CPU: {env['cpu']} ({env['logical_cpus']} logical CPUs), torch threads "
        f"{env['torch_threads']}" + (f", GPU: {env['gpu']}" if env.get('gpu') else ''),
        f'precision flags: {flags}',
        f"  -> {env['bf16_status']}",
        f"torch {env['torch']}, torchvision {env['torchvision']}, Python {env['python']}, "
        f"device {env['device']}",
        f"load average at start {env['load_average']}, at end {env.get('load_average_end')} "
        '(other processes may have been running when it is above ~0.5)',
    ]
    for note in result.get('precision_notes', []):
        lines.append(f'NOTE: {note}')
    for run in result['runs']:
        lines.append('')
        lines += _format_run(result['stage'], run)
    return '\n'.join(lines)


def _format_run(stage: str, run: dict) -> List[str]:
    lines = []
    if stage == 'step':
        lines.append(f"-- step, precision {run['precision']}, batch {run['batch_size']} "
                     f"images, views {run['view_sizes']} px")
    elif stage == 'data':
        lines.append(f"-- data, {run['num_files']} files in {run['data_root']}, views of "
                     f"{run['view_size']} px; decode: {run['decode']}")
    else:
        lines.append(f"-- eval, precision {run['precision']}, {run['num_images']} generated "
                     f"images of {run['img_size']} px, K = {run['num_clusters']}, seed "
                     f"{run['seeds'][0]}, features {run['feature_shape']}")
    lines.append(f"convention: {run['convention']}")
    if stage != 'eval':
        lines.append('timing: each path warmed up on its own, then timed in interleaved rounds '
                     '(rotating order); CPU use = process CPU time / (wall x threads), well '
                     'below 100% means the machine was shared')
    rows = [('subject', run['subject'])] + [('reference', r) for r in run['references']]
    if stage == 'eval':
        lines.append(f"{'':10} {'img/s':>9} {'total s':>9} {'cluster s':>10} "
                     f"{'peak RSS MiB':>13} {'CPU use':>8} {'mIoU':>7}  what")
        for role, r in rows:
            lines.append(f"{role:10} {_fmt(r['img_per_s']):>9} {_fmt(r['seconds'], '.1f'):>9} "
                         f"{_fmt(r['clustering_seconds'], '.2f'):>10} "
                         f"{_fmt(r['peak_rss_mib'], '.0f'):>13} {_pct(r.get('cpu_share')):>8} "
                         f"{_fmt(r['mIoU'], '.2f'):>7}  {r['name']}")
            parts = ', '.join(f'{k} {v:.2f} s' for k, v in r['breakdown_s'].items())
            lines.append(f"{'':10} breakdown: {parts}")
    else:
        has_cuda = any(r.get('cuda_peak_mib') for _, r in rows)
        lines.append(f"{'':10} {'img/s':>9} {'s/iter':>8} {'median':>8} {'peak RSS MiB':>13}"
                     + (f" {'CUDA MiB':>9}" if has_cuda else '') + f" {'CPU use':>8}  what")
        for role, r in rows:
            cuda = f" {_fmt(r.get('cuda_peak_mib'), '.0f'):>9}" if has_cuda else ''
            lines.append(f"{role:10} {_fmt(r['img_per_s']):>9} {_fmt(r['sec_per_iter']):>8} "
                         f"{_fmt(r['sec_per_iter_median']):>8} "
                         f"{_fmt(r['peak_rss_mib'], '.0f'):>13}{cuda} "
                         f"{_pct(r.get('cpu_share')):>8}  {r['name']}")
        if stage == 'step' and run['subject'].get('view_img_per_s'):
            lines.append(f"{'':10} subject: {run['subject']['view_img_per_s']:.3f} view-crops/s "
                         f"({run['subject']['views_per_image']} views per image); autocast "
                         f"{'on' if run['subject']['autocast'] else 'off'}")
    for key, ratio in run.get('ratios', {}).items():
        main = ' (main)' if key == run.get('ratio_vs') else ''
        lines.append(f'ratio subject / {key}: {ratio:.3f}{main}')
    if stage == 'eval' and 'clustering_speedup' in run:
        lines.append(f"clustering (fit + assignment) speed-up over the reference: "
                     f"{run['clustering_speedup']:.2f}x")
    if stage == 'step':
        bd = run['subject']['breakdown_ms']
        lines.append(f"subject step breakdown, ms per step (total {bd['total_ms']:.1f}; "
                     'exclusive times):')
        for name, ms in bd['phases'].items():
            share = 100. * ms / bd['total_ms'] if bd['total_ms'] else 0.
            lines.append(f'  {name:<36} {ms:>10.1f}  {share:5.1f}%')
        lines.append(f"  {'(unaccounted)':<36} {bd['unaccounted_ms']:>10.1f}")
        lines.append('  regions: ' + ', '.join(f'{k} {v:.1f}' for k, v in bd['regions'].items()))
    target = run.get('target') or {}
    if target:
        met = target.get('met')
        verdict = 'n/a' if met is None else ('MET' if met else 'NOT MET')
        if stage == 'eval':
            how = (f"{target['projected_seconds']:.0f} s projected ({target['projection']})"
                   if target.get('projected') else f"{target['seconds']:.0f} s")
            lines.append(f"target: {target['text']}: {how} -> {verdict}")
        else:
            why = (' (checked against the torchvision ResNet-50 reference, run only for a '
                   'ResNet-50 backbone)' if met is None and stage == 'step' else '')
            lines.append(f"target: {target['text']}: {_fmt(target.get('ratio'))} -> "
                         f'{verdict}{why}')
    return lines
