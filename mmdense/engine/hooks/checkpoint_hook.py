# Copyright (c) mmdense contributors. All rights reserved.
"""A ``CheckpointHook`` that never leaves the work dir without a usable
checkpoint.

Differences from mmengine's ``CheckpointHook`` (all arguments are shared):

1. **Save, then point, then prune.** mmengine removes the oldest kept
   checkpoint *before* writing the new one, so with ``max_keep_ckpts=1`` a
   job killed during the save is left with no checkpoint at all. Here the new
   file is written first (atomically, see ``mmdense.utils.fileio``), then
   ``last_checkpoint`` is replaced atomically, and only then the outdated
   file is removed.
2. **No non-finite checkpoint.** With ``check_finite=True`` (default) the
   model's floating-point parameters and buffers are checked before the
   write; a NaN/Inf refuses the save with an error naming the tensor and the
   step, so the previous checkpoint stays the latest.
3. **Auto-resume survives a damaged pointer.** With ``--resume`` (no path),
   if ``last_checkpoint`` is empty, points at a missing or truncated file, or
   a newer complete checkpoint exists next to it (the job died between the
   save and the pointer update), the newest complete checkpoint matching
   ``filename_tmpl`` is resumed instead, with a warning.
4. **A sha256 sidecar per checkpoint.** ``iter_8.pth.sha256`` (``sha256sum``
   format, written atomically after the checkpoint and before
   ``last_checkpoint``) is checked whenever the checkpoint is loaded through
   mmdense's local loader (resume, ``load_from``, ``tools/test.py``): a file
   changed on disk since it was written is refused with an error naming it.
5. **Checkpoint safety is installed** (``install_checkpoint_safety``) when
   the hook is built, i.e. while the runner is constructed and before it
   loads any checkpoint (``load_from``, resume, ``init_cfg`` Pretrained all
   happen in ``runner.train()`` / ``test()``).
"""
import os
import os.path as osp
import re
from typing import List, Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from mmdense.utils.fileio import atomic_write_text
from mmdense.registry import HOOKS
from mmdense.utils.checkpoint import (DIGEST_SUFFIX, install_checkpoint_safety,
                                      is_complete_checkpoint, write_checkpoint_digest)
from mmdense.utils.checkpoint_compat import nonfinite_tensors


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with a crash-safe save order, a finite
    check and a robust auto-resume (see the module docstring).

    Args:
        check_finite (bool): refuse to save a model holding NaN/Inf.
            Defaults to True.
        write_digest (bool): write a ``.sha256`` sidecar beside each local
            checkpoint, checked when it is loaded. Defaults to True.
        **kwargs: the arguments of mmengine's ``CheckpointHook``
            (``interval``, ``by_epoch``, ``max_keep_ckpts`` ...).
    """

    def __init__(self, *args, check_finite: bool = True, write_digest: bool = True,
                 **kwargs) -> None:
        # weights-only loading for every scheme + atomic local writes, before
        # the runner loads or saves anything (explicit and idempotent; importing
        # mmdense installs nothing)
        install_checkpoint_safety()
        super().__init__(*args, **kwargs)
        self.check_finite = check_finite
        self.write_digest = write_digest

    # ------------------------------------------------------------ resume
    def before_run(self, runner) -> None:
        super().before_run(runner)
        if not (runner._resume and runner._load_from is None):
            return
        chosen, reason = self._resumable_checkpoint(runner)
        if reason:
            runner.logger.warning(reason)
        if chosen is not None and reason:
            runner._load_from = chosen

    def _checkpoint_dir(self, runner) -> str:
        if self.out_dir is None or self.out_dir == runner.work_dir:
            return runner.work_dir
        return osp.join(self.out_dir, osp.basename(runner.work_dir.rstrip(osp.sep)))

    def _local_candidates(self, folder: str) -> List[Tuple[int, str]]:
        """``(step, path)`` of the files matching ``filename_tmpl``, newest first."""
        if '://' in folder or not osp.isdir(folder):
            return []
        head, _, tail = self.filename_tmpl.partition('{}')
        pattern = re.compile(re.escape(head) + r'(\d+)' + re.escape(tail) + '$')
        found = []
        for name in os.listdir(folder):
            match = pattern.match(name)
            if match:
                found.append((int(match.group(1)), osp.join(folder, name)))
        return sorted(found, reverse=True)

    def _resumable_checkpoint(self, runner) -> Tuple[Optional[str], str]:
        """The checkpoint auto-resume should use and, when it is not the one
        ``last_checkpoint`` names, why (else an empty reason)."""
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        named = None
        if osp.isfile(pointer):
            with open(pointer) as f:
                named = f.read().strip() or None
        if named is not None and '://' in named:
            return named, ''  # remote: trust mmengine
        newest = next((path for _, path in self._local_candidates(self._checkpoint_dir(runner))
                       if is_complete_checkpoint(path)), None)
        if named is not None and is_complete_checkpoint(named):
            if newest is None or osp.samefile(newest, named):
                return named, ''
            newer = self._step_of(newest) > self._step_of(named)
            if not newer:
                return named, ''
            return newest, (f'last_checkpoint names {named}, but the newer complete checkpoint '
                            f'{newest} exists (the run stopped before updating the pointer); '
                            f'resuming from {newest}.')
        if newest is None:
            if named is not None:
                return None, (f'last_checkpoint names {named}, which is missing or truncated, '
                              'and no other complete checkpoint was found; starting from scratch.')
            return None, ''
        what = 'is empty' if named is None and osp.isfile(pointer) else (
            'is missing' if named is None else f'names {named}, which is missing or truncated')
        return newest, f'last_checkpoint {what}; resuming from the newest complete checkpoint {newest}.'

    def _step_of(self, path: str) -> int:
        head, _, tail = self.filename_tmpl.partition('{}')
        match = re.match(re.escape(head) + r'(\d+)' + re.escape(tail) + '$', osp.basename(path))
        return int(match.group(1)) if match else -1

    # ------------------------------------------------------------ saving
    def _check_finite(self, runner, step: int) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        bad = nonfinite_tensors(model.state_dict())
        if bad:
            name = self.filename_tmpl.format(step)
            raise RuntimeError(
                f'Refusing to write checkpoint {name}: the model holds NaN/Inf in {", ".join(bad)}. '
                'The previous checkpoint is kept as the latest one; see '
                "docs/user_guides/reliability.md (model.nonfinite_loss='raise' stops a run at the "
                'first non-finite loss, before it reaches the weights).')

    def _save_checkpoint_with_step(self, runner, step, meta):
        if self.check_finite:
            self._check_finite(runner, step)
        outdated = None
        if self.max_keep_ckpts > 0:
            if not (len(self.keep_ckpt_ids) > 0 and self.keep_ckpt_ids[-1] == step):
                if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                    outdated = self.keep_ckpt_ids.popleft()
                self.keep_ckpt_ids.append(step)
                runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        local = self.write_digest and '://' not in str(self.last_ckpt)
        if local and is_main_process():  # a stale sidecar would not match the new file
            self._remove_digest(self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        if local and osp.isfile(self.last_ckpt):  # (deepspeed checkpoints are folders)
            write_checkpoint_digest(self.last_ckpt)
        atomic_write_text(self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
        if outdated is not None and outdated != step:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed checkpoints are folders
                self.file_backend.rmtree(path)
            if '://' not in str(path):
                self._remove_digest(path)

    @staticmethod
    def _remove_digest(path: str) -> None:
        try:
            os.remove(str(path) + DIGEST_SUFFIX)
        except OSError:
            pass
