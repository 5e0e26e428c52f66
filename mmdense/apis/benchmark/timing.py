# Copyright (c) mmdense contributors. All rights reserved.
"""Environment, memory probes, region timers and interleaved timing."""
import os
import platform
import resource
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from mmdense.utils import cpu_malloc
from mmdense.utils.cpu_features import bf16_status, cpu_model_name, cpu_native_bf16, precision_flags

from .common import BENCHMARK_REGIONS, CHILD_METHOD_REGIONS, Log


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
        cpu_malloc_keeps_freed=cpu_malloc.applied(),
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
