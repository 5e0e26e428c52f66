# Copyright (c) mmdense contributors. All rights reserved.
"""Is ViCE's region pooling + loss flat in the number of regions?

Times the forward + backward of ``SwAVRegionLoss`` (one scatter reduction for
all views, Sinkhorn, swapped prediction) on fixed ``(M * B, D, H, W)``
embeddings whose region maps hold about 50 / 500 / 5,000 regions per batch
(square grids; every region in every view). Settings are interleaved (one
repetition of each in turn), so machine load affects all alike; the load
average is printed with the result.

    python tools/analysis_tools/benchmark_region_pooling.py \\
        [--batch 4 --views 5 --dim 128 --size 80 --regions 50 500 5000]
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mmdense.models.losses import SwAVRegionLoss  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='region pooling + loss vs number of regions')
    parser.add_argument('--batch', type=int, default=4, help='images B')
    parser.add_argument('--views', type=int, default=5, help='views M')
    parser.add_argument('--dim', type=int, default=128, help='embedding D')
    parser.add_argument('--prototypes', type=int, default=128, help='K')
    parser.add_argument('--size', type=int, default=80, help='embedding map side')
    parser.add_argument('--regions', type=int, nargs='+', default=[50, 500, 5000],
                        help='regions per batch')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', help='JSON output')
    return parser.parse_args(argv)


def grid_regions(batch: int, views: int, size: int, per_batch: int) -> torch.Tensor:
    """``(M * B, size, size)`` grid region maps with ~``per_batch / B`` cells
    per image, identical in every view."""
    per_image = max(1, per_batch // batch)
    cells = max(1, round(per_image ** 0.5))
    side = -(-size // cells)
    ids = (torch.arange(size)[:, None] // side) * cells + torch.arange(size)[None] // side
    return ids.expand(views * batch, size, size).contiguous()


def main(argv: Optional[List[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    loss = SwAVRegionLoss(queue_length=0, freeze_prototypes_iters=0, dim=args.dim)
    prototypes = F.normalize(torch.randn(args.prototypes, args.dim), dim=1).requires_grad_()
    base = torch.randn(args.views * args.batch, args.dim, args.size, args.size)
    maps = {r: grid_regions(args.batch, args.views, args.size, r) for r in args.regions}
    times = {r: [] for r in args.regions}
    for rep in range(args.repeats + 1):  # the first round warms up
        for r, regions in maps.items():
            emb = F.normalize(base, dim=1).requires_grad_()
            start = time.perf_counter()
            loss(emb, regions, prototypes, args.views).backward()
            if rep:
                times[r].append(time.perf_counter() - start)
    report = {}
    for r, t in times.items():
        actual = int(regions_count(maps[r], args.batch, args.views))
        report[str(r)] = dict(regions_per_batch=actual,
                              ms_median=round(1000 * sorted(t)[len(t) // 2], 2))
    report['settings'] = dict(batch=args.batch, views=args.views, dim=args.dim,
                              size=args.size, threads=args.threads,
                              load_average=os.getloadavg())
    print(json.dumps(report, indent=2))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


def regions_count(regions: torch.Tensor, batch: int, views: int) -> int:
    """Distinct (image, region) pairs of the first view."""
    return sum(int(regions[b].unique().numel()) for b in range(batch))


if __name__ == '__main__':
    main()
