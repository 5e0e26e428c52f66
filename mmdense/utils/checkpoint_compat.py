# Copyright (c) mmdense contributors. All rights reserved.
"""Does a checkpoint fit the model it is about to be loaded into?

mmengine loads checkpoints with ``strict=False``: a checkpoint of another
configuration (say K = 16 prototypes loaded into a K = 8 model) is loaded
partly, with warnings; ``tools/test.py`` then scores a partly random network
and ``--resume`` fails much later, deep inside the optimizer's ``step``.
:func:`check_state_dict_matches` compares a state dict with the model and
raises one :class:`CheckpointMismatchError` listing every key whose shape
differs (with both shapes) and, unless allowed, every key of the model the
checkpoint lacks, naming the file. :func:`check_finite` refuses a checkpoint
holding NaN/Inf.

Used by ``mmdense.engine.hooks.CheckpointMatchHook`` (what ``tools/train.py``
and ``tools/test.py`` load), ``mmdense.apis.load_weights`` (analysis tools)
and the backbone exporter.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

#: how many keys a message lists
SHOWN_KEYS = 10
#: mmengine's default ``revise_keys`` (a raw DDP state dict)
DEFAULT_REVISE_KEYS = ((r'^module\.', ''), )
# counters torch's BatchNorm fills in itself when a checkpoint lacks them
_OPTIONAL_SUFFIXES = ('num_batches_tracked', )


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not fit the model (other shapes, missing keys);
    raised before any of its weights is loaded."""


class NonFiniteCheckpointError(ValueError):
    """A checkpoint holds NaN/Inf weights."""


def key_list(keys: Sequence[str]) -> str:
    """At most ``SHOWN_KEYS`` keys, comma-separated, and how many more."""
    keys = list(keys)
    shown = ', '.join(keys[:SHOWN_KEYS])
    more = len(keys) - SHOWN_KEYS
    return shown + (f' ... (+{more} more)' if more > 0 else '')


def _shape(value) -> Optional[Tuple[int, ...]]:
    shape = getattr(value, 'shape', None)
    return tuple(shape) if shape is not None else None


def state_dict_of(checkpoint, source: str = 'checkpoint') -> dict:
    """The ``state_dict`` of an mmengine checkpoint (or the dict itself when
    it is a bare state dict)."""
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(
            f'{source}: expected a checkpoint dict, got {type(checkpoint).__name__}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict):
        raise CheckpointMismatchError(f'{source}: its state_dict is a '
                                      f'{type(state_dict).__name__}, not a dict')
    return state_dict


def revise_keys(state_dict: dict, revise=DEFAULT_REVISE_KEYS) -> 'OrderedDict':
    """``state_dict`` with mmengine's ``revise_keys`` applied to its keys."""
    revised = OrderedDict()
    for key, value in state_dict.items():
        for pattern, replacement in revise:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    return revised


def compare_state_dict(model: nn.Module, state_dict: dict,
                       revise=DEFAULT_REVISE_KEYS) -> Dict[str, list]:
    """What differs between ``model.state_dict()`` and ``state_dict``.

    Returns:
        dict: ``mismatched`` (``(key, checkpoint shape, model shape)``),
        ``missing`` (model keys absent from the checkpoint, BatchNorm's
        ``num_batches_tracked`` counters excepted) and ``unexpected``
        (checkpoint keys the model does not have).
    """
    from mmpretrain.utils import get_ori_model  # lazy: mmpretrain costs ~0.3 s to import
    model = get_ori_model(model)
    own = model.state_dict()
    theirs = revise_keys(state_dict, revise)
    mismatched = []
    for key, value in theirs.items():
        if key in own:
            mine, shape = _shape(own[key]), _shape(value)
            if mine is not None and shape is not None and mine != shape:
                mismatched.append((key, shape, mine))
    missing = [k for k in own if k not in theirs and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in theirs if k not in own]
    return dict(mismatched=mismatched, missing=missing, unexpected=unexpected)


def describe_mismatched(mismatched: Sequence[Tuple[str, tuple, tuple]],
                        where: str = 'the checkpoint') -> List[str]:
    """Indented lines naming each ``(key, file shape, model shape)``."""
    if not mismatched:
        return []
    lines = [f'  {len(mismatched)} key(s) with another shape ({where.split()[-1]} vs model):']
    for key, theirs, mine in mismatched[:SHOWN_KEYS]:
        lines.append(f'    {key}: {theirs} in {where}, {mine} in the model')
    if len(mismatched) > SHOWN_KEYS:
        lines.append(f'    ... (+{len(mismatched) - SHOWN_KEYS} more)')
    return lines


def describe_differences(report: Dict[str, list], missing: bool = True) -> List[str]:
    """Indented lines for :func:`compare_state_dict`'s ``report``: the keys
    with another shape (both shapes), the missing keys (when ``missing``)
    and the keys the model does not have."""
    lines = describe_mismatched(report['mismatched'])
    if missing and report['missing']:
        lines.append(f'  {len(report["missing"])} key(s) of the model missing from the '
                     f'checkpoint: {key_list(report["missing"])}')
    if report['unexpected']:
        lines.append(f'  {len(report["unexpected"])} key(s) of the checkpoint the model does '
                     f'not have: {key_list(report["unexpected"])}')
    return lines


def check_state_dict_matches(model: nn.Module,
                             state_dict: dict,
                             source: str = 'the checkpoint',
                             allow_missing: bool = False,
                             purpose: Optional[str] = None,
                             revise=DEFAULT_REVISE_KEYS) -> Dict[str, list]:
    """Raise unless ``state_dict`` fits ``model``.

    Args:
        model (nn.Module): the model the weights are for (a DDP wrapper's
            ``module`` is used).
        state_dict (dict): the checkpoint's state dict (or the whole mmengine
            checkpoint: its ``state_dict`` is taken).
        source (str): the file, named in the message.
        allow_missing (bool): keys of the model absent from the checkpoint
            are allowed (e.g. initialising part of a model for training);
            shape mismatches never are.
        purpose (str, optional): what loading it would do, for the message
            (e.g. 'would evaluate a partly random network').
        revise: ``(pattern, replacement)`` pairs applied to the checkpoint's
            keys first, as mmengine does (default: strip ``module.``).

    Returns:
        dict: :func:`compare_state_dict`'s report (what was tolerated).

    Raises:
        CheckpointMismatchError: listing the keys with another shape
            (checkpoint and model shapes) and, unless ``allow_missing``, the
            missing keys.
    """
    if isinstance(state_dict, dict) and isinstance(state_dict.get('state_dict'), dict):
        state_dict = state_dict['state_dict']
    report = compare_state_dict(model, state_dict, revise)
    mismatched, missing = report['mismatched'], report['missing']
    if not mismatched and (allow_missing or not missing):
        return report
    from mmpretrain.utils import get_ori_model
    name = type(get_ori_model(model)).__name__
    lines = [f'Checkpoint {source} does not fit the {name} model of this config; '
             'nothing was loaded.']
    lines += describe_differences(report, missing=not allow_missing)
    if purpose:
        lines.append(f'Loading it anyway {purpose}.')
    hint = ('Is it a checkpoint of this config? Another --cfg-options (e.g. '
            'model.grouping.num_prototypes) or another model builds other shapes')
    if missing and not allow_missing:
        hint += ('; a backbone-only file (tools/model_converters/extract_backbone.py) is for '
                 'downstream models')
    lines.append(hint + '.')
    raise CheckpointMismatchError('\n'.join(lines))


def nonfinite_tensors(state_dict: dict, limit: int = 5) -> List[str]:
    """Names (at most ``limit``) of floating-point tensors holding NaN/Inf."""
    bad = []
    for name, value in state_dict.items():
        if (isinstance(value, torch.Tensor) and value.is_floating_point()
                and not bool(torch.isfinite(value).all())):
            bad.append(name)
            if len(bad) >= limit:
                break
    return bad


def check_finite(state_dict: dict, source: str = 'the checkpoint', limit: int = 5) -> None:
    """Raise :class:`NonFiniteCheckpointError` if a floating-point tensor of
    ``state_dict`` (or of an mmengine checkpoint's ``state_dict``) holds
    NaN/Inf, naming ``source`` and the first ``limit`` such keys."""
    if isinstance(state_dict, dict) and isinstance(state_dict.get('state_dict'), dict):
        state_dict = state_dict['state_dict']
    bad = nonfinite_tensors(state_dict, limit)
    if bad:
        raise NonFiniteCheckpointError(
            f'Checkpoint {source} holds NaN/Inf weights (first: {", ".join(bad)}); refusing to '
            'use it. Training refuses to save such weights (SafeCheckpointHook), so it was '
            'written by something else or damaged; use an earlier checkpoint of the run.')
