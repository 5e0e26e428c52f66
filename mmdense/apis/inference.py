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


class ModelAndLoader(NamedTuple):
    """What :func:`load_model_and_loader` returns (unpacks as a tuple)."""
    model: nn.Module
    dataloader: object
    cfg: object


def load_weights(model: nn.Module, checkpoint: str, map_location: str = 'cpu',
                 logger: str = 'current', strict: bool = True) -> Dict[str, List[str]]:
    """Load ``checkpoint``'s state dict into ``model``.

    A ``module.`` prefix of a raw DDP state dict is stripped. With
    ``strict=True`` (default) a checkpoint that does not fit the model is
    refused before anything is loaded: keys with another shape (a checkpoint
    of another configuration) and keys of the model missing from the
    checkpoint (it would analyse a partly random network) raise
    :class:`~mmdense.utils.checkpoint_compat.CheckpointMismatchError`, NaN/Inf
    weights :class:`~mmdense.utils.checkpoint_compat.NonFiniteCheckpointError`;
    keys the model does not have are ignored with a warning. ``strict=False``
    is the escape hatch for callers that really want a partial load: what
    matches is loaded (as ``mmengine.runner.load_checkpoint(...,
    strict=False)``) and the missing, unexpected and shape-mismatched keys are
    logged as one warning.

    Returns:
        dict: ``missing`` and ``unexpected`` key lists, ``mismatched``
        ``(key, checkpoint shape, model shape)`` triples.

    Raises:
        CheckpointMismatchError, NonFiniteCheckpointError: with ``strict``.
    """
    from mmengine.logging import print_log
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmdense.utils import install_checkpoint_safety
    from mmdense.utils.checkpoint_compat import (check_finite, check_state_dict_matches,
                                                 compare_state_dict, describe_differences)

    install_checkpoint_safety()  # weights-only loading for every scheme
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location)
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state_dict, dict):
        raise RuntimeError(f'no state_dict in {checkpoint}')
    metadata = getattr(state_dict, '_metadata', None)
    state_dict = OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())
    if strict:
        check_state_dict_matches(model, state_dict, checkpoint, allow_missing=False,
                                 purpose='would analyse a partly random network')
        check_finite(state_dict, checkpoint)
    report = compare_state_dict(model, state_dict, revise=())
    mismatched = [key for key, _, _ in report['mismatched']]
    for key in mismatched:  # load_state_dict(strict=False) still raises on shapes
        del state_dict[key]
    if metadata is not None:
        state_dict._metadata = metadata
    model.load_state_dict(state_dict, strict=False)
    if any(report.values()):
        how = 'loaded with strict=False' if not strict else 'its other keys ignored'
        lines = [f'{checkpoint} does not match {type(model).__name__} exactly ({how}; missing '
                 'keys keep their initial values, the others are not loaded):']
        lines += describe_differences(report)
        print_log('\n'.join(lines), logger=logger, level=logging.WARNING)
    return report


def _quiet_init_weights(model: nn.Module) -> None:
    """``model.init_weights()`` without mmengine's per-parameter dump.

    ``BaseModule.init_weights`` ends by logging, at INFO, one "name - shape:
    The value is the same before and after calling `init_weights` ..." entry
    per parameter (hundreds of lines for an analysis tool) or writing them to
    a log file. Here that dump is skipped and INFO is muted for the call;
    warnings still show.
    """
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    model._dump_init_info = lambda *args, **kwargs: None  # shadows BaseModule's, this call only
    try:
        model.init_weights()
    finally:
        model.__dict__.pop('_dump_init_info', None)
        logger.setLevel(level)


def build_model_from_config(cfg,
                            checkpoint: Optional[str] = None,
                            device: Optional[str] = None,
                            init_seed: int = 0,
                            channels_last: bool = True) -> nn.Module:
    """Build ``cfg.model``, load ``checkpoint`` and put it in eval mode.

    Args:
        cfg (mmengine.Config): An mmdense config (``default_scope`` is used,
            'mmdense' if missing).
        checkpoint (str, optional): Checkpoint path (mmengine format); None
            keeps the initial weights (``init_weights`` is called).
        device (str, optional): Defaults to 'cuda' if available, else 'cpu'.
        init_seed (int): torch seed of the initial weights when there is no
            checkpoint (a reproducible random-init baseline). Defaults to 0.
        channels_last (bool): store the convolution weights channels-last
            (inference only: the evaluation then feeds channels-last inputs,
            about 1.2x faster for a ResNet-50 on CPU; same features up to
            float rounding). Defaults to True.

    Returns:
        nn.Module: The model, on ``device``, in eval mode. A checkpoint that
        does not fit the model (other shapes, missing keys, NaN/Inf) is
        refused; keys the model does not have are logged (see
        :func:`load_weights`).
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
        _quiet_init_weights(model)
    else:
        load_weights(model, checkpoint)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = model.to(device).eval()
    return model.to(memory_format=torch.channels_last) if channels_last else model


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


def add_model_args(parser: argparse.ArgumentParser,
                   test_loader: bool = True) -> argparse.ArgumentParser:
    """Add the arguments every analysis tool shares to ``parser``.

    ``config``, ``checkpoint`` (or 'none' for the initial weights),
    ``--device``, ``--init-seed``, ``--cfg-options`` and, with
    ``test_loader`` (tools that read the config's test_dataloader),
    ``--max-images`` (alias ``--num-images``), ``--batch-size``,
    ``--num-workers``.
    """
    from mmengine.config import DictAction
    parser.add_argument('config', help='model config' + (' with a test_dataloader'
                                                          if test_loader else ''))
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for the initial weights")
    if test_loader:
        parser.add_argument('--max-images', '--num-images', dest='max_images', type=int,
                            help='use the first N test images only (default: all)')
        parser.add_argument('--batch-size', type=int,
                            help='override test_dataloader.batch_size')
        parser.add_argument('--num-workers', type=int,
                            help='override test_dataloader.num_workers')
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


def load_model(args: argparse.Namespace, check_interface: bool = True) -> nn.Module:
    """The model named by :func:`add_model_args`'s arguments, in eval mode
    (checked for the dense inference interface unless ``check_interface``)."""
    from mmdense.evaluation.dense import check_dense_model
    model = build_model_from_config(load_config(args), checkpoint_arg(args), args.device,
                                    args.init_seed)
    if check_interface:
        check_dense_model(model, f'the model of {osp.basename(args.config)}')
    return model


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
    model = load_model(args, check_interface)
    cfg = load_config(args)
    loader = build_test_dataloader(cfg, args.max_images, args.batch_size, args.num_workers)
    return ModelAndLoader(model, loader, cfg)
