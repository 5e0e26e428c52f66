# Copyright (c) mmdense contributors. All rights reserved.
"""Refuse a checkpoint of another configuration before it is used.

mmengine's ``Runner.load_or_resume`` (``--resume``, ``load_from``,
``tools/test.py``) loads weights with ``strict=False``: a checkpoint whose
shapes differ from the model's is loaded partly, with warnings, and the run
goes on (a resumed optimizer then fails deep inside its ``step``; a test
scores a partly random network). :class:`CheckpointMatchHook` checks the
loaded checkpoint against ``runner.model`` in ``after_load_checkpoint``,
which mmengine calls between reading the file and copying its weights, i.e.
before anything is loaded, trained or evaluated, and stops with one
:class:`~mmdense.utils.checkpoint_compat.CheckpointMismatchError` listing the
mismatched keys with both shapes and the file.

``tools/train.py`` and ``tools/test.py`` add it to ``custom_hooks`` unless the
config has one already (which is how to configure it).
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import BaseLoop

from mmdense.registry import HOOKS
from mmdense.utils.checkpoint_compat import check_finite, check_state_dict_matches


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """Check the checkpoint mmengine loads (``load_from`` / resume) against
    the model, before its weights are copied.

    Args:
        allow_missing (bool, optional): whether keys of the model may be
            absent from the checkpoint. None (default): only when a training
            run initialises from ``load_from`` without resuming (e.g. part of
            the model from another checkpoint); never when resuming or
            testing (it would evaluate a partly random network). Keys with
            another shape are always refused.
        check_finite (bool): refuse a checkpoint holding NaN/Inf weights.
            Defaults to True.
    """

    # after SafeCheckpointHook's before_run (VERY_LOW) chose the file to
    # auto-resume; after other hooks' after_load_checkpoint changes
    priority = 'LOWEST'

    def __init__(self, allow_missing: Optional[bool] = None, check_finite: bool = True) -> None:
        self.allow_missing = allow_missing
        self.check_finite = check_finite
        self._source: Optional[str] = None
        self._training = False

    def before_run(self, runner) -> None:
        # train() builds its loop before calling before_run; test()/val() do not
        self._training = isinstance(getattr(runner, '_train_loop', None), BaseLoop)
        self._source = self._planned_source(runner)

    @staticmethod
    def _planned_source(runner) -> Optional[str]:
        """The file ``Runner.load_or_resume`` is going to load."""
        if runner._resume and runner._load_from is None:
            from mmengine.runner import find_latest_checkpoint
            try:
                return find_latest_checkpoint(runner.work_dir)
            except Exception:  # a damaged pointer: reported by whoever loads it
                return None
        return runner._load_from

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        source = self._source or 'the checkpoint'
        resuming = bool(runner._resume)
        if resuming:
            purpose = 'would resume another network (its optimizer state does not fit either)'
        elif self._training:
            purpose = 'would train a partly initialised network'
        else:
            purpose = 'would evaluate a partly random network'
        allow_missing = self.allow_missing
        if allow_missing is None:
            allow_missing = self._training and not resuming
        state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(
            checkpoint, dict) else checkpoint
        report = check_state_dict_matches(runner.model, state_dict, source,
                                          allow_missing=allow_missing, purpose=purpose)
        if self.check_finite:
            check_finite(state_dict, source)
        if report['missing']:
            runner.logger.warning(
                f'{source}: {len(report["missing"])} key(s) of the model are not in the '
                'checkpoint and keep their initial values (load_from of a training run).')


def add_checkpoint_match_hook(cfg, **kwargs) -> None:
    """Append ``CheckpointMatchHook(**kwargs)`` to ``cfg.custom_hooks`` unless
    the config has one (whose settings then win). In configs of other scopes
    (mmseg/mmdet benchmarks) it is named by its import path, which mmengine's
    registries resolve from any scope."""
    hooks = list(cfg.get('custom_hooks') or [])
    for hook in hooks:
        kind = hook.get('type') if isinstance(hook, dict) else type(hook)
        name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
        if name.split('.')[-1] == 'CheckpointMatchHook':
            return
    name = 'CheckpointMatchHook'
    if cfg.get('default_scope') != 'mmdense':
        name = f'{__name__}.{name}'
    hooks.append(dict(type=name, **kwargs))
    cfg.custom_hooks = hooks
