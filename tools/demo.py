# Copyright (c) mmdense contributors. All rights reserved.
"""The quick-start demo: pre-train on synthetic scenes, then compare with random init.

1. Evaluate the network at its random initialisation (same seed as training)
   by unsupervised segmentation on held-out synthetic scenes.
2. Train it with the demo config.
3. Evaluate the trained network the same way, and print both figures.

    python tools/demo.py [CONFIG] [--work-dir DIR] [--cfg-options k=v ...]

Everything is generated on the fly: no download.
"""
import argparse
import json
import os
import os.path as osp
import time

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

DEFAULT_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                          'configs', 'slotcon', 'slotcon_resnet18-narrow_1xb32-400iters_synthetic.py')


#: what the config's test metric measures, by its prefix
PROTOCOLS = {
    'unsup_seg': 'prototype argmax, Hungarian matching',
    'kmeans': 'k-means on the dense features, Hungarian matching',
    'object_kmeans': 'k-means on mean object embeddings, saliency head as background',
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmdense synthetic-scene demo')
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG, help='config file')
    parser.add_argument('--work-dir', default='work_dirs/demo', help='where logs and checkpoints go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    return parser.parse_args(argv)


def build_cfg(args: argparse.Namespace, work_dir: str) -> Config:
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    return cfg


def evaluate(cfg: Config) -> dict:
    """Build a runner from ``cfg`` and run its test loop on the current weights."""
    runner = Runner.from_cfg(cfg)
    return runner.test()


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()

    print('[demo] 1/3 evaluating the randomly initialised network ...', flush=True)
    random_metrics = evaluate(build_cfg(args, osp.join(args.work_dir, 'random_init')))

    print('[demo] 2/3 training ...', flush=True)
    cfg = build_cfg(args, args.work_dir)
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_seconds = time.time() - start

    print('[demo] 3/3 evaluating the trained network ...', flush=True)
    trained_metrics = runner.test()

    key_miou = next(k for k in trained_metrics if k.endswith('mIoU'))
    protocol = key_miou.rpartition('/')[0]
    key_pacc = next(k for k in trained_metrics if k.endswith('pAcc'))
    summary = dict(
        config=osp.relpath(args.config),
        protocol=PROTOCOLS.get(protocol, protocol or key_miou),
        random_init=dict(mIoU=random_metrics[key_miou], pAcc=random_metrics[key_pacc]),
        trained=dict(mIoU=trained_metrics[key_miou], pAcc=trained_metrics[key_pacc]),
        ratio_mIoU=round(trained_metrics[key_miou] / max(random_metrics[key_miou], 1e-6), 2),
        minutes=round((time.time() - start) / 60, 1),
        train_minutes=round(train_seconds / 60, 1),
    )
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'demo_summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print('\n[demo] unsupervised segmentation on held-out synthetic scenes '
          f"({summary['protocol']})\n"
          f"  random init : mIoU {summary['random_init']['mIoU']:6.2f}  pAcc {summary['random_init']['pAcc']:6.2f}\n"
          f"  trained     : mIoU {summary['trained']['mIoU']:6.2f}  pAcc {summary['trained']['pAcc']:6.2f}\n"
          f"  mIoU ratio  : {summary['ratio_mIoU']}x   total time {summary['minutes']} min "
          f"({args.work_dir}/demo_summary.json)", flush=True)
    return summary


if __name__ == '__main__':
    # a CPU run reuses freed tensors' memory instead of mapping it anew every step
    # (mmdense.utils.cpu_malloc; only here, so that importing main() changes nothing)
    from mmdense.utils.cpu_malloc import keep_freed_memory_without_cuda
    keep_freed_memory_without_cuda()
    main()
