# Copyright (c) mmdense contributors. All rights reserved.
"""Save the random number generators' states in checkpoints and restore them
on resume, at the point where the uninterrupted run would have used them.

mmengine 0.10.7 checkpoints the model, optimizer (incl. the AMP scaler),
parameter schedulers, message hub and the *seed*, but not the generators'
states: a resumed run re-seeds at start-up, so Python's ``random``, numpy's
global generator and torch's CPU/CUDA generators of the training process do
not continue where they were. Whatever draws from them in the training
process (augmentations with ``num_workers=0``, dropout, random masking,
``BaseDataset``'s re-fetch of a skipped sample ...) then differs after a
resume.

:class:`RandomStateHook` stores those states under ``checkpoint['rng_states']``
(tensors and numbers only, so the checkpoint still loads with
``torch.load(weights_only=True)``) and restores them when *resuming* (not for
``load_from``). Timing matters: ``IterBasedTrainLoop`` replays the
dataloader for the iterations already done (which draws from the same
generators when ``num_workers=0``), so the states are restored right after
that replay, before the first new batch is fetched; for epoch-based loops
they are restored before the resumed epoch starts.

Dataloader workers are seeded by mmengine from ``(seed, rank, worker_id)``
when they start; with an iteration-based loop the replay brings their
generators to the exact same point. See ``docs/user_guides/reliability.md``
for what is and is not bit-exact.
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from mmdense.registry import HOOKS

RNG_KEY = 'rng_states'


def capture_rng_states() -> dict:
    """States of Python's, numpy's (global) and torch's (CPU, CUDA)
    generators, as tensors / numbers (``weights_only``-loadable)."""
    py_version, py_state, py_gauss = random.getstate()
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    states = dict(
        python=dict(version=int(py_version), state=torch.tensor(py_state, dtype=torch.int64),
                    gauss=py_gauss),
        numpy=dict(kind=str(np_kind), keys=torch.from_numpy(np_keys.astype(np.int64)),
                   pos=int(np_pos), has_gauss=int(np_has_gauss), gauss=float(np_gauss)),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    """Inverse of :func:`capture_rng_states`."""
    py = states['python']
    random.setstate((py['version'], tuple(int(v) for v in py['state'].tolist()), py['gauss']))
    npy = states['numpy']
    np.random.set_state((npy['kind'], npy['keys'].numpy().astype(np.uint32), npy['pos'],
                         npy['has_gauss'], npy['gauss']))
    torch.set_rng_state(states['torch'])
    cuda = states.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


class _RestoreAfterReplay:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator``: passes the
    ``replay`` batches of the resume's fast-forward through, then restores
    the generators before the first new batch and puts the real iterator
    back."""

    def __init__(self, loop, replay: int, restore) -> None:
        self.loop = loop
        self.inner = loop.dataloader_iterator
        self.remaining = replay
        self.restore = restore

    def __iter__(self):
        return self

    def __next__(self):
        if self.remaining > 0:
            self.remaining -= 1
            return next(self.inner)
        self.restore()
        self.loop.dataloader_iterator = self.inner
        return next(self.inner)

    def __getattr__(self, name):  # e.g. ``_dataloader`` / ``_epoch``
        return getattr(self.inner, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Checkpoint the generators' states and restore them on resume.

    With several processes only rank 0 writes the checkpoint, so rank 0's
    states are restored on rank 0; the other ranks keep the states mmengine
    seeded them with (``seed + rank``), which is deterministic but not the
    uninterrupted run's.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = capture_rng_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from (fine-tuning / testing): keep this run's seeding
        states = checkpoint.get(RNG_KEY)
        if states is None:
            runner.logger.warning(
                'The resumed checkpoint has no random generator states (written without '
                'RandomStateHook); the run continues with freshly seeded generators.')
            return
        if get_world_size() > 1 and runner.rank != 0:
            return
        self._pending = states

    def _restore(self, runner) -> None:
        if self._pending is not None:
            restore_rng_states(self._pending)
            self._pending = None
            runner.logger.info('Random generator states restored from the checkpoint.')

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator') and loop.iter > 0:
            # IterBasedTrainLoop fast-forwards the dataloader by loop.iter
            # batches right after this hook; restore after that.
            loop.dataloader_iterator = _RestoreAfterReplay(loop, loop.iter,
                                                           lambda: self._restore(runner))
        else:
            self._restore(runner)
