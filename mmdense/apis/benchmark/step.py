# Copyright (c) mmdense contributors. All rights reserved.
"""Stage ``step``: a config's ``train_step`` against supervised steps."""
import copy
import logging
from collections import OrderedDict
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import torch

from .common import STEP_CONVENTION, Log, _ratios, optim_wrapper_for_precision, view_layout
from .references import (REFERENCE_VIEWS, build_reference_step, default_references,
                         method_step_target)
from .timing import (RegionTimer, _autocast, _log_level, _stats_summary, _sync_fn,
                     _time_interleaved, instrument_step)


# --------------------------------------------------------------------------
# stage: step
# --------------------------------------------------------------------------
def synthetic_view_batch(batch_size: int, view_sizes: Sequence[int], seed: int = 0,
                         device: str = 'cpu', mask_keys: Sequence[str] = (),
                         region_keys: Sequence[str] = ()) -> dict:
    """A collated batch as ``PackMultiViewInputs`` + ``default_collate`` make it.

    ``inputs``: one ``(B, 3, s, s)`` uint8 tensor per view; ``data_samples``:
    mmpretrain ``DataSample`` with ``view_crops`` ``(V, 4)`` (original-image
    pixels; all crops of an image share its centre region, so every pair
    overlaps), ``view_flips``, ``view_sizes`` and ``view_group_ids``; and
    ``view_seg_maps``: per ``mask_keys`` key a ``(V, s, s)`` uint8 object map
    (one centred object, id 1, a quarter of the view), per ``region_keys``
    key a ``(V, s, s)`` int32 region map (cells of 16 x 16 pixels), stacked
    when all views share one size, else a list of ``(s, s)`` maps.
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
        maps = {key: [_object_map(s) for s in view_sizes] for key in mask_keys}
        maps.update({key: [_region_map(s) for s in view_sizes] for key in region_keys})
        if maps:
            same = len(set(view_sizes)) == 1
            sample.set_field({k: torch.stack(v) if same else v for k, v in maps.items()},
                             'view_seg_maps')
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _object_map(size: int) -> torch.Tensor:
    """(size, size) uint8: one centred object (1) on background (0)."""
    out = torch.zeros(size, size, dtype=torch.uint8)
    out[size // 4:size - size // 4, size // 4:size - size // 4] = 1
    return out


def _region_map(size: int, cell: int = 16) -> torch.Tensor:
    """(size, size) int32: region ids of a grid of ``cell`` x ``cell`` cells."""
    idx = torch.arange(size) // cell
    return (idx[:, None] * ((size + cell - 1) // cell) + idx[None]).to(torch.int32)


def bench_step(cfg, precision: str, batch_size: Optional[int], img_size: Optional[int],
               iters: int, warmup: int, device: str, seed: int = 0, reference: bool = True,
               log: Log = print, references: Optional[Sequence[str]] = None,
               reference_views: Optional[str] = None, count_flops: bool = True) -> dict:
    """The ``step`` stage at one precision (see the package docstring).

    Args:
        references (Sequence[str], optional): reference keys
            (:data:`~.references.STEP_REFERENCES`); default: the same
            backbone, torchvision's ResNet-50 for a ResNet-50 and the
            method's own (:data:`~.references.METHOD_STEP_TARGETS`).
        reference_views (str, optional): 'first' (B images of the first
            view's size) or 'all' (the subject's B x V crops); default: the
            method's, else 'first'.
        count_flops (bool): after the timing, run each path once more
            under ``torch.utils.flop_counter.FlopCounterMode`` and report the
            FLOPs per step and the FLOP bound of each ratio (reference FLOPs /
            subject FLOPs per image: the ratio at equal efficiency).
    """
    from mmengine.optim import build_optim_wrapper

    from mmdense.registry import MODELS

    if batch_size is None:
        batch_size = int(cfg.train_dataloader.batch_size)
    sizes = view_layout(cfg, img_size)
    sync = _sync_fn(device)
    map_kinds = MODELS.get(cfg.model['type']).view_map_kinds(dict(cfg.model))
    batch = synthetic_view_batch(
        batch_size, sizes, seed=seed, device=device,
        mask_keys=[k for k, kind in map_kinds.items() if kind == 'objects'],
        region_keys=[k for k, kind in map_kinds.items() if kind == 'regions'])
    backbone_cfg = copy.deepcopy(dict(cfg.model.backbone))
    results: Dict[str, object] = OrderedDict(
        batch_size=batch_size, view_sizes=sizes, convention=STEP_CONVENTION)

    # build every path first: they are timed interleaved (see _time_interleaved)
    paths: Dict[str, Callable[[], object]] = OrderedDict()
    names: Dict[str, str] = {}
    method_target = method_step_target(dict(cfg.model))
    views = reference_views or (method_target or {}).get('views', 'first')
    if views not in REFERENCE_VIEWS:
        raise ValueError(f'reference_views must be one of {REFERENCE_VIEWS}, got {views!r}')
    results['reference_views'] = views
    if reference:
        ref_views = batch['inputs'][:1] if views == 'first' else batch['inputs']
        keys = list(references or default_references(backbone_cfg, method_target))
        for key in keys:
            torch.manual_seed(seed)
            names[key], paths[key] = build_reference_step(key, backbone_cfg, ref_views,
                                                          precision, device, _autocast)
            if views == 'all':
                names[key] += f', all {len(ref_views)} views (B x V crops)'

    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    if hasattr(model, 'init_weights'):
        model.init_weights()
    model.to(device).train()
    wrapper_cfg = optim_wrapper_for_precision(cfg, precision, device)
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
    main_key = (method_target or {}).get('reference')
    _ratios(results, prefer=main_key)
    main = results.get('ratio')
    if count_flops:  # the region hooks only time: FLOPs are counted without them
        flops = {key: step_flops(fn) for key, fn in paths.items()}
        results['flops_per_step'] = flops
        # at equal FLOP efficiency, subject img/s / reference img/s = this
        results['flop_bounds'] = OrderedDict(
            (key, round(flops[key] / flops['subject'], 4)) for key in paths
            if key != 'subject' and flops['subject'])
    if method_target is None:
        results['target'] = None
    else:
        text = (f"{method_target['method']} step >= {method_target['min_ratio']:.2f} x "
                f"{main_key} ({method_target['views']} views)")
        checked = results.get('ratio_vs') == main_key and views == method_target['views']
        results['target'] = dict(text=text, ratio=main,
                                 met=bool(main >= method_target['min_ratio'])
                                 if checked and main is not None else None)
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


def step_flops(step: Callable[[], object]) -> int:
    """FLOPs of one call of ``step`` (forward, backward and what else it runs),
    counted by torch's ``FlopCounterMode`` (matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())

