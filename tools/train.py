# Copyright (c) mmdense contributors. All rights reserved.
"""Train a model from an mmengine config.

Examples::

    python tools/train.py configs/xxx.py
    python tools/train.py configs/xxx.py --amp --resume
    python tools/train.py configs/xxx.py --cfg-options train_dataloader.batch_size=32
    bash tools/dist_train.sh configs/xxx.py 8

The runner builds everything from the config; with ``default_scope='mmdense'``
the registries import ``mmdense``'s modules themselves.
"""
import argparse
import os
import os.path as osp
import warnings
from typing import Optional, Sequence

# torch and the runner are imported when needed, so that `--help` is quick.
from mmengine.config import Config, DictAction

# Device types on which mmengine's ``AmpOptimWrapper`` can be built.
AMP_DEVICES = ('cuda', 'npu', 'mlu', 'musa')
#: the optimiser wrappers ``--amp`` switches (mmdense.engine.optimizers.optim_wrapper_type
#: picks the mixed-precision one: CPUAmpOptimWrapper, bfloat16 autocast, on the CPU)
AMP_ACCEPTED_WRAPPERS = ('OptimWrapper', 'AmpOptimWrapper', 'CPUAmpOptimWrapper',
                         'PerParamClipOptimWrapper', 'PerParamClipAmpOptimWrapper')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line (``sys.argv[1:]`` if ``argv`` is None)."""
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--work-dir',
        help='the dir to save logs and checkpoints '
        '(default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a value, resume '
        'from the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision training: float16 (or the config\'s dtype) '
        'with dynamic loss scaling on GPU, bfloat16 autocast on CPU')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='skip validation during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual batch size over the config\'s '
        '`auto_scale_lr.base_batch_size`')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. "optim_wrapper.optimizer.lr='
        '0.1 train_dataloader.batch_size=8"; lists as key="[a,b]" or '
        'key=a,b; quote the whole option if it has spaces')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank; torchrun sets the LOCAL_RANK environment variable.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def default_work_dir(config: str) -> str:
    """``./work_dirs/<config file name without extension>``."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])


def enable_amp(cfg: Config, device: Optional[str] = None) -> None:
    """Switch ``cfg.optim_wrapper`` to mixed precision for ``device``.

    On an accelerator mmengine's ``AmpOptimWrapper`` is used with dynamic
    loss scaling (the config's ``loss_scale`` / ``dtype`` are kept). On CPU,
    where ``AmpOptimWrapper`` refuses to be built, ``CPUAmpOptimWrapper``
    autocasts to bfloat16, the only dtype of CPU autocast, without loss
    scaling (bfloat16 has float32's range).

    Args:
        cfg (Config): The config, modified in place.
        device (str, optional): Device type; defaults to mmengine's
            ``get_device()``.
    """
    optim_wrapper = cfg.get('optim_wrapper')
    if optim_wrapper is None:
        raise ValueError('--amp needs an `optim_wrapper` in the config')
    wrapper_type = optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type not in AMP_ACCEPTED_WRAPPERS:
        raise ValueError('--amp only works with optim_wrapper.type '
                         f'{", ".join(AMP_ACCEPTED_WRAPPERS)}, got {wrapper_type!r}')
    if device is None:
        from mmengine.device import get_device
        device = get_device()
    # keeps per-parameter clipping (mmengine's AmpOptimWrapper would hand per_parameter to
    # torch's clip_grad_norm_)
    from mmdense.engine.optimizers import optim_wrapper_type
    optim_wrapper.type = optim_wrapper_type(optim_wrapper, amp=True,
                                            accelerator=device in AMP_DEVICES)
    if device in AMP_DEVICES:
        optim_wrapper.setdefault('loss_scale', 'dynamic')
        return
    if optim_wrapper.get('dtype', 'bfloat16') != 'bfloat16':
        warnings.warn(f"CPU autocast only supports bfloat16; ignoring "
                      f"optim_wrapper.dtype={optim_wrapper.dtype!r}")
    optim_wrapper.dtype = 'bfloat16'
    optim_wrapper.pop('loss_scale', None)
    optim_wrapper.pop('use_fsdp', None)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to ``cfg``.

    ``--cfg-options`` is merged first, so the dedicated flags (``--work-dir``,
    ``--amp`` ...) have the last word.

    Args:
        cfg (Config): The loaded config, modified in place.
        args (argparse.Namespace): The output of :func:`parse_args`.

    Returns:
        Config: ``cfg``.
    """
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.amp:
        enable_amp(cfg)
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs `auto_scale_lr = dict('
                             'base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Parse ``argv``, build the runner from the config and train."""
    args = parse_args(argv)
    # weights-only checkpoint loading for every scheme, atomic writes: before
    # the config's custom_imports run and anything loads a checkpoint
    from mmdense.utils import install_checkpoint_safety
    install_checkpoint_safety()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)

    cfg = merge_args(Config.fromfile(args.config), args)
    # a bad config fails here, naming its key, before anything is built
    from mmdense.utils.config_validation import validate_config
    validate_config(cfg, 'train')
    # a checkpoint of another configuration (--resume, load_from) is refused,
    # listing the mismatched keys, before anything trains
    from mmdense.engine.hooks.checkpoint_match_hook import add_checkpoint_match_hook
    add_checkpoint_match_hook(cfg)

    # tools/dist_train.sh CONFIG N on a CPU-only machine: gloo, no torch.cuda call
    from mmdense.apis.launch import prepare_cpu_distributed
    prepare_cpu_distributed(cfg)

    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    # a CPU run reuses freed tensors' memory instead of mapping it anew every step
    # (mmdense.utils.cpu_malloc; only here, so that importing main() changes nothing)
    from mmdense.utils.cpu_malloc import keep_freed_memory_without_cuda
    keep_freed_memory_without_cuda()
    main()
