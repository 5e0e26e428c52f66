# Copyright (c) mmdense contributors. All rights reserved.
"""Build a trained model and its test dataloader from a config: the one
helper behind every analysis tool.

A tool adds the shared arguments with :func:`add_model_args` (config,
checkpoint or 'none', ``--cfg-options``, ``--device``, ``--init-seed``,
``--max-images``, ``--batch-size``, ``--num-workers``) and gets the model (in
eval mode, checked for the dense inference interface) and the loader from
:func:`load_model_and_loader`::

    parser = argparse.ArgumentParser()
    add_model_args(parser)
    parser.add_argument('--topk', type=int, default=8)
    args = parser.parse_args()
    model, loader, cfg = load_model_and_loader(args)
"""
import argparse
import copy
import logging
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional

import torch
import torch.nn as nn

#: how many key names a missing/unexpected key warning lists
SHOWN_KEYS = 10


class ModelAndLoader(NamedTuple):
    """What :func:`load_model_and_loader` returns (unpacks as a tuple)."""
    model: nn.Module
    dataloader: object
    cfg: object


def _key_list(keys: List[str]) -> str:
    shown = ', '.join(keys[:SHOWN_KEYS])
    more = len(keys) - SHOWN_KEYS
    return shown + (f' ... (+{more} more)' if more > 0 else '')


def load_weights(model: nn.Module, checkpoint: str, map_location: str = 'cpu',
                 logger: str = 'current') -> Dict[str, List[str]]:
    """Load ``checkpoint``'s state dict into ``model`` non-strictly and log
    what did not match.

    Keys are loaded as by ``mmengine.runner.load_checkpoint(..., strict=False)``
    (a ``module.`` prefix of a raw DDP state dict is stripped); the missing,
    unexpected and shape-mismatched keys are logged as one warning (through
    ``logger``) and returned.

    Returns:
        dict: ``missing``, ``unexpected`` and ``mismatched`` key lists.
    """
    from mmengine.logging import print_log
    from mmengine.runner.checkpoint import CheckpointLoader

    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location)
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state_dict, dict):
        raise RuntimeError(f'no state_dict in {checkpoint}')
    metadata = getattr(state_dict, '_metadata', None)
    state_dict = OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())
    own = model.state_dict()
    mismatched = [k for k, v in state_dict.items()
                  if k in own and hasattr(v, 'shape') and tuple(v.shape) != tuple(own[k].shape)]
    for key in mismatched:
        del state_dict[key]
    if metadata is not None:
        state_dict._metadata = metadata
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing = [k for k in missing if k not in mismatched]
    report = dict(missing=missing, unexpected=list(unexpected), mismatched=mismatched)
    if any(report.values()):
        lines = [f'{checkpoint} does not match {type(model).__name__} exactly '
                 '(loaded with strict=False):']
        if report['missing']:
            lines.append(f'  missing keys ({len(missing)}, left at their initial values): '
                         f'{_key_list(report["missing"])}')
        if report['unexpected']:
            lines.append(f'  unexpected keys ({len(unexpected)}, ignored): '
                         f'{_key_list(report["unexpected"])}')
        if mismatched:
            lines.append(f'  shape-mismatched keys ({len(mismatched)}, not loaded): '
                         f'{_key_list(mismatched)}')
        print_log('\n'.join(lines), logger=logger, level=logging.WARNING)
    return report


def build_model_from_config(cfg,
                            checkpoint: Optional[str] = None,
                            device: Optional[str] = None,
                            init_seed: int = 0) -> nn.Module:
    """Build ``cfg.model``, load ``checkpoint`` and put it in eval mode.

    Args:
        cfg (mmengine.Config): An mmdense config (``default_scope`` is used,
            'mmdense' if missing).
        checkpoint (str, optional): Checkpoint path (mmengine format); None
            keeps the initial weights (``init_weights`` is called).
        device (str, optional): Defaults to 'cuda' if available, else 'cpu'.
        init_seed (int): torch seed of the initial weights when there is no
            checkpoint (a reproducible random-init baseline). Defaults to 0.

    Returns:
        nn.Module: The model, on ``device``, in eval mode. Keys of the
        checkpoint that do not match are logged (see :func:`load_weights`).
    """
    from mmengine.registry import init_default_scope

    from mmdense.registry import MODELS
    from mmdense.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdense'))
    if checkpoint is None:
        torch.manual_seed(init_seed)
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        model.init_weights()
    else:
        load_weights(model, checkpoint)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return model.to(device).eval()


def build_test_dataloader(cfg,
                          max_images: Optional[int] = None,
                          batch_size: Optional[int] = None,
                          num_workers: Optional[int] = None):
    """``cfg.test_dataloader`` without shuffling, optionally limited to the
    first ``max_images`` images (the dataset's ``indices``)."""
    from mmengine.runner import Runner
    if cfg.get('test_dataloader') is None:
        raise ValueError('the config has no test_dataloader')
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
    if max_images is not None:
        loader_cfg['dataset']['indices'] = int(max_images)
    if batch_size is not None:
        loader_cfg['batch_size'] = int(batch_size)
    if num_workers is not None:
        loader_cfg['num_workers'] = int(num_workers)
    if not loader_cfg.get('num_workers', 0):
        loader_cfg['persistent_workers'] = False
    return Runner.build_dataloader(loader_cfg)


def add_model_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the arguments every analysis tool shares to ``parser``.

    ``config``, ``checkpoint`` (or 'none' for the initial weights),
    ``--max-images`` (alias ``--num-images``), ``--batch-size``,
    ``--num-workers``, ``--device``, ``--init-seed``, ``--cfg-options``.
    """
    from mmengine.config import DictAction
    parser.add_argument('config', help='model config with a test_dataloader')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for the initial weights")
    parser.add_argument('--max-images', '--num-images', dest='max_images', type=int,
                        help='use the first N test images only (default: all)')
    parser.add_argument('--batch-size', type=int, help='override test_dataloader.batch_size')
    parser.add_argument('--num-workers', type=int, help='override test_dataloader.num_workers')
    parser.add_argument('--device', help='cpu / cuda (default: cuda if any)')
    parser.add_argument('--init-seed', type=int, default=0,
                        help="torch seed of the initial weights with checkpoint 'none'")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. test_dataloader.batch_size=8')
    return parser


def load_config(args: argparse.Namespace):
    """``args.config`` with ``args.cfg_options`` merged in."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if getattr(args, 'cfg_options', None):
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def checkpoint_arg(args: argparse.Namespace) -> Optional[str]:
    """``args.checkpoint``: None for 'none', else an existing file."""
    if args.checkpoint.lower() == 'none':
        return None
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    return args.checkpoint


def load_model_and_loader(args: argparse.Namespace, check_interface: bool = True
                          ) -> ModelAndLoader:
    """The model and test dataloader named by :func:`add_model_args`'s arguments.

    Args:
        args (Namespace): parsed arguments of a parser set up by
            :func:`add_model_args`.
        check_interface (bool): raise a TypeError unless the model has the
            dense inference interface of ``BaseDenseSelfSupervisor``.

    Returns:
        ModelAndLoader: ``(model, dataloader, cfg)``, the model in eval mode.
    """
    from mmdense.evaluation.dense import check_dense_model
    cfg = load_config(args)
    checkpoint = checkpoint_arg(args)
    model = build_model_from_config(cfg, checkpoint, args.device, args.init_seed)
    if check_interface:
        check_dense_model(model, f'the model of {osp.basename(args.config)}')
    loader = build_test_dataloader(cfg, args.max_images, args.batch_size, args.num_workers)
    return ModelAndLoader(model, loader, cfg)
