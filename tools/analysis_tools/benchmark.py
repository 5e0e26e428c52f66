# Copyright (c) mmdense contributors. All rights reserved.
"""Throughput of a config against a reference path, in one run.

Stages (logic in :mod:`mmdense.apis.benchmark`; conventions and measured
numbers in ``docs/benchmarks/speed.md``):

- ``step``: the config's ``train_step`` on synthetic views vs supervised
  steps: the same backbone, torchvision's ResNet-50 for a ResNet-50, and the
  method's own reference (e.g. mmseg's DeepLabV3-R50 OS8 for MaskContrast;
  ``--reference``, ``--reference-views first|all``);
- ``data``: the config's training pipeline on real JPEGs vs PIL +
  ``torchvision.transforms.v2``, one process, one thread;
- ``eval``: unsupervised-segmentation k-means protocol vs a direct faiss +
  numpy reference on the same features.

Examples::

    python tools/analysis_tools/benchmark.py \\
        configs/slotcon/slotcon_resnet50_8xb64-coslr-800e_coco.py \\
        --stage step --batch-size 16 --precision fp32 bf16 --out step.json
    python tools/analysis_tools/benchmark.py CONFIG --stage data --data-root DIR
    python tools/analysis_tools/benchmark.py CONFIG --stage eval --num-images 2175 --img-size 320
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    from mmdense.apis.benchmark.references import REFERENCE_VIEWS, STEP_REFERENCES
    parser = argparse.ArgumentParser(
        description='Time a config (train step / data pipeline / evaluation) against a '
        'reference path in the same run')
    parser.add_argument('config', help='config file')
    parser.add_argument('--stage', choices=['step', 'data', 'eval'], default='step')
    parser.add_argument('--precision', nargs='+', choices=['fp32', 'bf16'], default=['fp32'],
                        help='one run per precision (bf16 runs even where it is emulated, '
                        'and says so)')
    parser.add_argument('--batch-size', type=int,
                        help='step: images per step (default: the config\'s per-GPU batch); '
                        'eval: extraction batch (default 16)')
    parser.add_argument('--img-size', type=int,
                        help='step/data: size of the first view group (default: the '
                        "config's); eval: image size (default 320)")
    parser.add_argument('--iters', type=int,
                        help='timed iterations (step: steps, default 10; data: images, '
                        'default 160)')
    parser.add_argument('--warmup', type=int,
                        help='untimed iterations first (step 2, data 10)')
    parser.add_argument('--data-root', help='data: folder of images (default: the COCO '
                        'subset in ../shared/data/coco_tiny)')
    parser.add_argument('--num-images', type=int,
                        help='data: first N files; eval: generated images (default 2175)')
    parser.add_argument('--num-clusters', type=int, default=27, help='eval: K (default 27)')
    parser.add_argument('--device', help='cpu / cuda (default: cuda if any)')
    parser.add_argument('--threads', type=int, help='torch threads for step / eval')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-reference', action='store_true', help='time the subject only')
    parser.add_argument('--reference', nargs='+', choices=list(STEP_REFERENCES),
                        help="step: reference steps to time (default: the same backbone, "
                        "torchvision's ResNet-50 for a ResNet-50, and the method's own)")
    parser.add_argument('--reference-views', choices=list(REFERENCE_VIEWS),
                        help="step: run the references on the first view's images or on all "
                        "the subject's crops (default: the method's choice, else first)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--out', help='write the full result to this JSON file')
    parser.add_argument('--quiet', action='store_true', help='no progress lines')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None,
         args: Optional[argparse.Namespace] = None) -> dict:
    """Run the benchmark of ``argv`` (or of already parsed ``args``)."""
    args = args if args is not None else parse_args(argv)
    from mmdense.apis import format_report, run_benchmark
    result = run_benchmark(
        args.config, stage=args.stage, precisions=args.precision, batch_size=args.batch_size,
        img_size=args.img_size, iters=args.iters, warmup=args.warmup, data_root=args.data_root,
        num_images=args.num_images, num_clusters=args.num_clusters, device=args.device,
        threads=args.threads, cfg_options=args.cfg_options, seed=args.seed,
        reference=not args.no_reference, log=None if args.quiet else _log,
        references=args.reference, reference_views=args.reference_views)
    print(format_report(result), flush=True)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'results written to {args.out}', flush=True)
    return result


def _log(message: str) -> None:
    print(message, flush=True)


if __name__ == '__main__':
    # as tools/train.py does for a CPU run; subject and references share the process
    from mmdense.utils.cpu_malloc import keep_freed_memory, keep_freed_memory_without_cuda
    cli_args = parse_args()
    if cli_args.device == 'cpu':
        keep_freed_memory(log=_log)
    elif cli_args.device is None:
        keep_freed_memory_without_cuda(log=_log)
    main(args=cli_args)
