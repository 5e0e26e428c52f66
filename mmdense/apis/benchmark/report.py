# Copyright (c) mmdense contributors. All rights reserved.
"""Plain-text report of a benchmark result."""
from typing import List


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
        f"device {env['device']}" + (
            ', glibc malloc keeps freed memory (mmdense.utils.cpu_malloc)'
            if env.get('cpu_malloc_keeps_freed') else ''),
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
    bounds = run.get('flop_bounds') or {}
    for key, ratio in run.get('ratios', {}).items():
        main = ' (main)' if key == run.get('ratio_vs') else ''
        bound = (f'; FLOP bound {bounds[key]:.3f} (reference / subject FLOPs), '
                 f'{ratio / bounds[key]:.0%} of it' if bounds.get(key) else '')
        lines.append(f'ratio subject / {key}: {ratio:.3f}{main}{bound}')
    if run.get('flops_per_step'):
        lines.append('GFLOPs per step (FlopCounterMode: matmuls, convolutions): ' + ', '.join(
            f'{k} {v / 1e9:.1f}' for k, v in run['flops_per_step'].items()))
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
            why = (" (checked only against the method's own reference and views)"
                   if met is None and stage == 'step' else '')
            lines.append(f"target: {target['text']}: {_fmt(target.get('ratio'))} -> "
                         f'{verdict}{why}')
    return lines
