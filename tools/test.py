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
        '--show-dir',
        help='draw the predictions of every test image into this directory (needs '
        "default_hooks.visualization, e.g. mmseg's SegVisualizationHook / mmdet's "
        'DetVisualizationHook)')
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
    if getattr(args, 'show_dir', None):
        enable_show_dir(cfg, args.show_dir)
    return cfg


def enable_show_dir(cfg: Config, show_dir: str) -> Config:
    """Switch on the config's visualization hook for every test image, its
    drawings going to ``show_dir`` (as mmseg's / mmdet's ``tools/test.py``)."""
    hook = (cfg.get('default_hooks') or {}).get('visualization')
    if not hook:
        raise RuntimeError('--show-dir needs default_hooks.visualization in the config, e.g. '
                           "dict(type='SegVisualizationHook') (mmseg) or "
                           "dict(type='DetVisualizationHook') (mmdet)")
    hook['draw'] = True
    hook['interval'] = 1  # every image (the hooks' default draws one in 50)
    if str(hook.get('type', '')).endswith('DetVisualizationHook'):
        hook['test_out_dir'] = osp.abspath(show_dir)  # mmdet writes files itself
    if cfg.get('visualizer') is not None:
        cfg.visualizer['save_dir'] = show_dir  # where the LocalVisBackend writes
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Parse ``argv``, build the runner, test and return the metrics."""
    args = parse_args(argv)
    # weights-only checkpoint loading for every scheme (see tools/train.py)
    from mmdense.utils import install_checkpoint_safety
    install_checkpoint_safety()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = merge_args(Config.fromfile(args.config), args)
    # a bad config fails here, naming its key, before anything is built
    from mmdense.utils.config_validation import validate_config
    validate_config(cfg, 'test')
    # a checkpoint of another configuration, one missing weights of the model
    # or holding NaN/Inf is refused before anything is evaluated
    from mmdense.engine.hooks.checkpoint_match_hook import add_checkpoint_match_hook
    add_checkpoint_match_hook(cfg, allow_missing=False, check_finite=True)

    from mmengine.dist import is_main_process
    from mmengine.fileio import dump
    # tools/dist_test.sh CONFIG CKPT N on a CPU-only machine: gloo, no torch.cuda call
    from mmdense.apis.launch import prepare_cpu_distributed
    prepare_cpu_distributed(cfg)

    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if args.out and is_main_process():
        dump(dict(metrics), args.out, file_format='json', indent=4)
        runner.logger.info(f'metrics written to {args.out}')
    return metrics


if __name__ == '__main__':
    main()
