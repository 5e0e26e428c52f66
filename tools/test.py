# Copyright (c) mmdense contributors. All rights reserved.
"""Evaluate a checkpoint with the config's ``test_dataloader`` and
``test_evaluator``.

Examples::

    python tools/test.py configs/xxx.py work_dirs/xxx/epoch_100.pth
    python tools/test.py configs/xxx.py ckpt.pth --out metrics.json
    bash tools/dist_test.sh configs/xxx.py ckpt.pth 8
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

# the runner (and torch) are imported in main(), so that `--help` is quick.
from mmengine.config import Config, DictAction


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line (``sys.argv[1:]`` if ``argv`` is None)."""
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the dir to save logs (default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--out', help='dump the returned metrics to this JSON file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. "test_dataloader.batch_size=1"'
        '; lists as key="[a,b]" or key=a,b')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to ``cfg`` (in place, returned).

    ``--cfg-options`` is merged first, then the dedicated flags.
    """
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Parse ``argv``, build the runner, test and return the metrics."""
    args = parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = merge_args(Config.fromfile(args.config), args)
    # a bad config fails here, naming its key, before anything is built
    from mmdense.utils.config_validation import validate_config
    validate_config(cfg, 'test')

    from mmengine.dist import is_main_process
    from mmengine.fileio import dump
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if args.out and is_main_process():
        dump(dict(metrics), args.out, file_format='json', indent=4)
        runner.logger.info(f'metrics written to {args.out}')
    return metrics


if __name__ == '__main__':
    main()
