# Copyright (c) mmdense contributors. All rights reserved.
"""``StrictPretrained``: a pre-trained initialisation that cannot silently fail.

mmengine's ``PretrainedInit`` (``init_cfg=dict(type='Pretrained', ...)``)
loads with ``strict=False`` and only *logs* missing keys: a wrong file, a
wrong ``prefix`` or a checkpoint of another network leaves (part of) the
backbone randomly initialised, and the downstream run trains and evaluates a
random network without a word. ``StrictPretrained`` loads the same way
(mmengine's ``CheckpointLoader``, i.e. the weights-only loaders that
``mmdense.safety`` installs, ``module.`` stripped, then ``prefix`` stripped)
but refuses, before loading anything, when a key of the module is missing
from the file or has another shape. The error names the file, the prefix
tried and the prefixes the file does have, e.g.::

    StrictPretrainedError: checkpoint work_dirs/x/epoch_800.pth does not fit
    the ResNet being initialised with prefix 'backbone.' (nothing loaded):
      320 of its 320 keys are missing ...
    The file holds this module's keys under: 'teacher.module.backbone.'
    (320 keys), 'backbone.' (320 keys); its top-level prefixes: backbone.,
    grouping., neck., teacher.

Usage (downstream configs, ``default_scope`` 'mmdet' / 'mmseg')::

    custom_imports = dict(imports=['mmdense', 'mmdense.safety',
                                   'mmdense.models.utils.strict_pretrained'])
    model = dict(backbone=dict(init_cfg=dict(
        type='mmdense.StrictPretrained', checkpoint='.../backbone.pth')))

Keys of the file the module does not have are tolerated (one warning line),
as are BatchNorm's ``num_batches_tracked`` counters.

``keep_init`` names module keys (by prefix) the file need not hold: they
keep the module's own initialisation, e.g. ``('conv_seg.',)`` when a
pre-trained decoder initialises a supervised decode head whose classifier is
new. Every other key must be in the file.

Note on order: mmengine's ``BaseModule.init_weights`` applies an init_cfg
whose type is not exactly 'Pretrained' *before* the module's children run
their own ``init_weights`` (the 'Pretrained' type alone is deferred to the
end), which would overwrite the loaded weights of a child with an
initialiser of its own (mmcv's ``ConvModule`` in a decode head or neck).
After loading, every child whose tensors all came from the file is marked
``is_init`` (mmengine's own flag), so the loop skips it; children holding a
``keep_init`` key are not marked and initialise as usual. Keep ``keep_init``
to whole children (``'conv_seg.'``): a child holding both kept and loaded keys
runs its own initialiser, which may redraw the loaded ones too. The benchmark
tests check the model holds the file tensor for tensor.

Imports: mmengine, torch and ``mmdense.utils`` / ``mmdense.registry`` only.
"""
import logging
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch.nn as nn
from mmengine.logging import print_log

from mmdense.registry import WEIGHT_INITIALIZERS
from mmdense.utils.checkpoint_compat import (CheckpointMismatchError, compare_state_dict,
                                             describe_mismatched, key_list, state_dict_of)

__all__ = ['StrictPretrained', 'StrictPretrainedError', 'prefixes_holding']


class StrictPretrainedError(CheckpointMismatchError):
    """A pre-trained checkpoint does not cover the module it initialises."""


def _fmt_prefix(prefix: str) -> str:
    return repr(prefix) if prefix else '(no prefix)'


def prefixes_holding(state_dict: Dict[str, object], module_keys) -> 'OrderedDict[str, int]':
    """Prefixes under which ``state_dict`` holds keys of the module, with
    how many of the module's keys each holds, most first.

    A key ``P + k`` counts for prefix ``P`` when ``k`` is a key of the module
    (``module_keys``), e.g. ``teacher.module.backbone.`` for a SlotCon
    checkpoint and a ResNet.
    """
    module_keys = set(module_keys)
    counts: Dict[str, int] = {}
    for key in state_dict:
        parts = key.split('.')
        for i in range(len(parts)):
            if '.'.join(parts[i:]) in module_keys:
                prefix = ''.join(p + '.' for p in parts[:i])
                counts[prefix] = counts.get(prefix, 0) + 1
                break
    return OrderedDict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def top_level_prefixes(state_dict: Dict[str, object]) -> List[str]:
    """The distinct first components of the keys, as ``'name.'``, sorted."""
    return sorted({key.split('.', 1)[0] + ('.' if '.' in key else '') for key in state_dict})


def mark_loaded_children(module: nn.Module, kept: Sequence[str]) -> None:
    """Set mmengine's ``is_init`` on every descendant of ``module`` none of
    whose keys is in ``kept``, so ``BaseModule.init_weights`` does not
    re-initialise what was just loaded (children run their own
    ``init_weights`` after a non-'Pretrained' init_cfg)."""
    kept_owners = set()
    for key in kept:
        parts = key.split('.')[:-1]
        kept_owners.update('.'.join(parts[:i]) for i in range(1, len(parts) + 1))
    for name, child in module.named_modules():
        if name and name not in kept_owners:
            child.is_init = True


@WEIGHT_INITIALIZERS.register_module()
class StrictPretrained:
    """Load a (prefixed part of a) checkpoint into a module, or raise.

    Args:
        checkpoint (str): file or URL (any scheme mmengine's
            ``CheckpointLoader`` handles).
        prefix (str, optional): prefix of the module's keys in the file (e.g.
            ``'teacher.module.backbone.'`` for a full mmdense checkpoint);
            None or '' for a file holding the module's keys as they are (the
            ``backbone.pth`` of ``tools/model_converters/extract_backbone.py``).
        map_location (str): as for ``torch.load``. Defaults to 'cpu'.
        keep_init (Sequence[str]): prefixes of module keys that may be absent
            from the file and then keep the module's own initialisation (a
            new classifier, ``'conv_seg.'``). Defaults to none.
    """

    def __init__(self, checkpoint: str, prefix: Optional[str] = None,
                 map_location: str = 'cpu', keep_init: Sequence[str] = ()) -> None:
        if not checkpoint:
            raise ValueError('StrictPretrained needs a checkpoint')
        self.checkpoint = checkpoint
        if prefix and not prefix.endswith('.'):
            prefix += '.'
        self.prefix = prefix or ''
        self.map_location = map_location
        if isinstance(keep_init, str):
            keep_init = (keep_init, )
        self.keep_init = tuple(keep_init)

    def load_state_dict(self) -> Dict[str, object]:
        """The file's state dict (``module.`` stripped), all keys."""
        from mmengine.runner.checkpoint import CheckpointLoader
        ckpt = CheckpointLoader.load_checkpoint(self.checkpoint, map_location=self.map_location)
        state_dict = state_dict_of(ckpt, self.checkpoint)
        return OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())

    def select(self, state_dict: Dict[str, object]) -> 'OrderedDict[str, object]':
        """The keys under ``prefix``, with the prefix stripped."""
        n = len(self.prefix)
        return OrderedDict((k[n:], v) for k, v in state_dict.items() if k.startswith(self.prefix))

    def check(self, module: nn.Module, full: Dict[str, object],
              selected: Dict[str, object]) -> Dict[str, list]:
        """Raise :class:`StrictPretrainedError` unless ``selected`` covers
        ``module`` with the same shapes; return the comparison report."""
        report = compare_state_dict(module, selected, revise=())
        report['kept'] = [k for k in report['missing'] if k.startswith(self.keep_init)]
        report['missing'] = [k for k in report['missing'] if not k.startswith(self.keep_init)]
        if not report['missing'] and not report['mismatched']:
            return report
        own = module.state_dict()
        name = type(module).__name__
        lines = [f'checkpoint {self.checkpoint} does not fit the {name} being initialised '
                 f'with prefix {_fmt_prefix(self.prefix)} (nothing was loaded):']
        missing = report['missing']
        if missing:
            lines.append(f'  {len(missing)} of its {len(own)} keys are missing from the file '
                         f'under that prefix: {key_list(missing)}')
        lines += describe_mismatched(report['mismatched'], where='the file')
        holding = prefixes_holding(full, own)
        if holding:
            found = ', '.join(f'{_fmt_prefix(p)} ({n} keys)' for p, n in list(holding.items())[:8])
            lines.append(f'The file holds keys of this module under the prefixes: {found}.')
        else:
            lines.append('The file holds no key of this module under any prefix.')
        tops = top_level_prefixes(full)
        lines.append(f'Its top-level prefixes: {", ".join(tops[:20])}'
                     + (f' ... (+{len(tops) - 20} more)' if len(tops) > 20 else '') + '.')
        lines.append("Set the config's init_cfg.prefix (e.g. model.backbone.init_cfg.prefix="
                     "'teacher.module.backbone.' for a full mmdense checkpoint, none for an "
                     'extract_backbone.py export), or check the file is of this network.')
        raise StrictPretrainedError('\n'.join(lines))

    def __call__(self, module: nn.Module) -> None:
        if self.prefix:
            print_log(f'load {self.prefix} in model from: {self.checkpoint}', logger='current')
        else:
            print_log(f'load model from: {self.checkpoint}', logger='current')
        full = self.load_state_dict()
        selected = self.select(full)
        report = self.check(module, full, selected)
        for key in report['unexpected']:
            selected.pop(key)
        module.load_state_dict(selected, strict=False)  # every module key but keep_init
        mark_loaded_children(module, report["kept"])
        if report['unexpected']:
            print_log(f'{self.checkpoint}: {len(report["unexpected"])} key(s) under prefix '
                      f'{_fmt_prefix(self.prefix)} that the {type(module).__name__} does not '
                      f'have were ignored: {key_list(report["unexpected"])}',
                      logger='current', level=logging.WARNING)
        loaded = len(module.state_dict()) - len(report['kept'])
        kept = (f'; {len(report["kept"])} keep their own initialisation '
                f'({key_list(report["kept"])})' if report['kept'] else '')
        print_log(f'loaded all {loaded} tensors of the {type(module).__name__} from '
                  f'{self.checkpoint}' + (' but those under keep_init' + kept if kept else ''),
                  logger='current')
        if hasattr(module, '_params_init_info'):
            from mmengine.model.weight_init import update_init_info
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load from {self.checkpoint}'
