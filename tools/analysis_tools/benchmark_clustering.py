# Copyright (c) mmdense contributors. All rights reserved.
"""How much does CrOC's clustering cost, and what does the linear Sinkhorn save?

Times ``CrossViewOnlineClustering`` (no gradient) on random per-head tokens of
``B`` images x ``heads`` heads, for every (tokens per view, K_start) setting,
with its Sinkhorn solves in the log domain (``sinkhorn_knopp(domain='log')``,
the reference) and with ``domain='auto'`` (the default: the linear-domain
path for CrOC's cost in [0, 1] on CPU tensors). Settings and domains are
interleaved (one repetition of each in turn), so machine load affects all
alike; the load average is printed with the result. The assignments of both
domains are compared too (the fraction of tokens whose cluster set differs).

    python tools/analysis_tools/benchmark_clustering.py \\
        [--batch 8 --heads 6 --dim 64 --tokens 64 196 784 --num-seeds 5 12]
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional
from unittest import mock

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402

from mmdense.models.utils import CrossViewOnlineClustering  # noqa: E402
from mmdense.models.utils import online_clustering, sinkhorn  # noqa: E402

DOMAINS = ('log', 'auto')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='CrOC clustering time, log vs linear Sinkhorn')
    parser.add_argument('--batch', type=int, default=8, help='images B')
    parser.add_argument('--heads', type=int, default=6, help='heads (ViT-S: 6)')
    parser.add_argument('--dim', type=int, default=64, help='dims per head (ViT-S: 64)')
    parser.add_argument('--tokens', type=int, nargs='+', default=[64, 196, 784],
                        help='patch tokens per view (196: 224 px, patch 16)')
    parser.add_argument('--num-seeds', type=int, nargs='+', default=[5, 12], help='K_start')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', help='JSON output')
    return parser.parse_args(argv)


def make_inputs(batch: int, heads: int, tokens: int, dim: int):
    """Random tokens ``(B, heads, 2, N, d)``, [CLS] ``(B, heads, 2, d)`` and
    patch centres ``(B, 2, N, 2)`` on a square grid."""
    gen = torch.Generator().manual_seed(0)
    side = int(round(tokens ** 0.5))
    grid = torch.stack(torch.meshgrid(torch.arange(side), torch.arange(side), indexing='xy'), -1)
    pos = (grid.reshape(-1, 2).float() * 16 + 8)[:tokens]
    return (torch.randn(batch, heads, 2, tokens, dim, generator=gen),
            torch.randn(batch, heads, 2, dim, generator=gen),
            pos.expand(batch, 2, -1, 2).contiguous())


def run(clustering: CrossViewOnlineClustering, inputs, domain: str):
    """One clustering with its Sinkhorn solves forced to ``domain``; seconds, output."""
    solve = sinkhorn.sinkhorn_knopp

    def forced(*args, **kwargs):
        return solve(*args, domain=domain, **kwargs)

    with mock.patch.object(online_clustering, 'sinkhorn_knopp', forced):
        torch.manual_seed(0)  # same seeds drawn in both domains
        start = time.perf_counter()
        out = clustering(*inputs)
        return time.perf_counter() - start, out


def main(argv: Optional[List[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = [(n, k) for n in args.tokens for k in args.num_seeds]
    inputs = {n: make_inputs(args.batch, args.heads, n, args.dim) for n in args.tokens}
    modules = {k: CrossViewOnlineClustering(num_seeds=k) for k in args.num_seeds}
    times = {(n, k, d): [] for n, k in settings for d in DOMAINS}
    differ = {}
    for n, k in settings:  # warm-up, and the assignments of both domains
        outs = [run(modules[k], inputs[n], d)[1] for d in DOMAINS]
        differ[(n, k)] = float(((outs[0].weights > 0) != (outs[1].weights > 0)).any(-1).float().mean())
    for _ in range(args.repeats):
        for n, k in settings:
            for d in DOMAINS:
                times[(n, k, d)].append(run(modules[k], inputs[n], d)[0])
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f'CrossViewOnlineClustering, {args.batch} images x {args.heads} heads, d = {args.dim}, '
          f'{args.threads} thread(s), median of {args.repeats}, load average {load:.1f}')
    print('| tokens per view | K_start | log-domain Sinkhorn (ms) | auto (ms) | speed-up '
          '| tokens assigned differently |')
    print('| --- | --- | --- | --- | --- | --- |')
    results = {}
    for n, k in settings:
        log_ms, auto_ms = (1e3 * float(torch.tensor(times[(n, k, d)]).median()) for d in DOMAINS)
        results[f'{n}x{k}'] = dict(tokens=n, num_seeds=k, log_ms=log_ms, auto_ms=auto_ms,
                                   speedup=log_ms / auto_ms, differ=differ[(n, k)])
        print(f'| {n} | {k} | {log_ms:.1f} | {auto_ms:.1f} | {log_ms / auto_ms:.2f}x '
              f'| {100 * differ[(n, k)]:.3f} % |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(load_average=load, settings=results), f, indent=2)
    return results


if __name__ == '__main__':
    main()
