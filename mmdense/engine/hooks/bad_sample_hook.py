# Copyright (c) mmdense contributors. All rights reserved.
"""Report the samples the data pipeline skipped, across dataloader workers.

``RobustLoadImageFromFile(invalid='skip')`` / ``ValidateSegMap(...='skip')``
return None for a broken sample, and mmengine's ``BaseDataset`` draws another
one. They run in dataloader worker processes, whose logs and counters the
training process never sees, so they record each skip as a JSON line in a
per-process file of a folder named by ``$MMDENSE_BAD_SAMPLE_DIR``. This hook
creates that folder and sets the variable *when it is built* (in
``Runner.__init__``, before any worker starts, so workers inherit it), reads
the records while training, warns **once per file** (path and reason), logs
a summary at the end of every epoch (and of training), and keeps
``<work_dir>/bad_samples.json`` up to date: every skipped file with its
reason and how many times it was skipped.

The record folder is ``<tmp>/mmdense-bad-samples-<pid>-XXXX`` (``<tmp>``:
``tempfile.gettempdir()``, i.e. ``$TMPDIR`` or ``/tmp``). It is removed at
the end of the run, when training fails with an exception (after the report
is written: a run stopped by ``AllSamplesInvalidError`` or
``max_skipped_fraction`` still leaves its ``bad_samples.json``), and at
interpreter exit; a run killed outright (SIGKILL, out of memory) cannot
clean up, so every new hook first removes the record folders of processes
of this host that no longer exist.
"""
import functools
import json
import os
import os.path as osp
import re
import shutil
import socket
import tempfile
import weakref
from typing import Dict, List, Optional

from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop

from mmdense.datasets.transforms.bad_samples import BAD_SAMPLE_DIR_ENV, display_path
from mmdense.utils.fileio import atomic_write_text
from mmdense.registry import HOOKS

RECORD_DIR_PREFIX = 'mmdense-bad-samples-'
_OWNER_FILE = 'owner.json'
_RECORD_DIR_RE = re.compile(re.escape(RECORD_DIR_PREFIX) + r'(\d+)-')


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def sweep_stale_record_dirs(root: Optional[str] = None) -> List[str]:
    """Remove the record folders left in ``root`` (default: the temp folder)
    by runs that were killed: those whose ``owner.json`` names this host and
    a process that no longer exists. Returns the folders removed."""
    root = root or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    host = socket.gethostname()
    for name in names:
        match = _RECORD_DIR_RE.match(name)
        if not match:
            continue
        path = osp.join(root, name)
        try:
            with open(osp.join(path, _OWNER_FILE)) as f:
                owner = json.load(f)
        except (OSError, ValueError):
            continue  # not ours to judge (or being created right now)
        if owner.get('host') != host or int(owner.get('pid', -1)) != int(match.group(1)):
            continue
        if not _pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _remove_record_dir(path: str, pid: int) -> None:
    """Finalizer: remove ``path``, in the process that made it only (never
    in a forked dataloader worker)."""
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)
        if os.environ.get(BAD_SAMPLE_DIR_ENV) == path:
            del os.environ[BAD_SAMPLE_DIR_ENV]


@HOOKS.register_module()
class BadSampleReportHook(Hook):
    """Warn once per skipped file and summarise the skips per epoch.

    Args:
        interval (int): read the workers' records every ``interval``
            training iterations (and at every epoch end). Defaults to 50.
        max_skipped_fraction (float, optional): stop training with an error
            when the distinct skipped files exceed this fraction of the
            training set (a wrong folder or a broken disk rather than a few
            bad files). None disables the check. Defaults to None.
        report_file (str): name of the report written in the work dir.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self,
                 interval: int = 50,
                 max_skipped_fraction: Optional[float] = None,
                 report_file: str = 'bad_samples.json') -> None:
        if max_skipped_fraction is not None and not 0 <= max_skipped_fraction <= 1:
            raise ValueError(f'BadSampleReportHook: max_skipped_fraction must be in [0, 1], '
                             f'got {max_skipped_fraction!r}')
        self.interval = max(1, int(interval))
        self.max_skipped_fraction = max_skipped_fraction
        self.report_file = report_file
        sweep_stale_record_dirs()
        pid = os.getpid()
        self.record_dir = tempfile.mkdtemp(prefix=f'{RECORD_DIR_PREFIX}{pid}-')
        with open(osp.join(self.record_dir, _OWNER_FILE), 'w') as f:
            json.dump(dict(host=socket.gethostname(), pid=pid), f)
        self._finalizer = weakref.finalize(self, _remove_record_dir, self.record_dir, pid)
        os.environ[BAD_SAMPLE_DIR_ENV] = self.record_dir
        self._offsets: Dict[str, int] = {}
        self.files: Dict[str, dict] = {}  # path -> dict(reason, kind, count)
        self.epoch_skips = 0

    # ------------------------------------------------------------ reading
    def collect(self, runner=None) -> List[str]:
        """Read new records; warn about files not seen before; return them."""
        new = []
        if not osp.isdir(self.record_dir):
            return new
        for name in sorted(os.listdir(self.record_dir)):
            if not name.endswith('.jsonl'):
                continue
            path = osp.join(self.record_dir, name)
            start = self._offsets.get(name, 0)
            try:
                with open(path, 'rb') as f:
                    f.seek(start)
                    chunk = f.read()
            except OSError:
                continue
            end = chunk.rfind(b'\n') + 1  # only complete lines
            self._offsets[name] = start + end
            for line in chunk[:end].splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                self.epoch_skips += 1
                entry = self.files.get(rec['path'])
                if entry is None:
                    self.files[rec['path']] = dict(reason=rec.get('reason', ''),
                                                   kind=rec.get('kind', 'image'), count=1)
                    new.append(rec['path'])
                    if runner is not None:
                        runner.logger.warning(
                            f"Skipped {rec.get('kind', 'image')} {display_path(rec['path'])}: "
                            f"{display_path(rec.get('reason', ''))}")
                else:
                    entry['count'] += 1
        return new

    def _merged(self) -> Dict[str, dict]:
        """All ranks' files (identical on every rank)."""
        if get_world_size() == 1:
            return dict(self.files)
        merged: Dict[str, dict] = {}
        for files in all_gather_object(self.files):
            for path, entry in files.items():
                if path in merged:
                    merged[path]['count'] += entry['count']
                else:
                    merged[path] = dict(entry)
        return merged

    def summarize(self, runner, when: str) -> None:
        self.collect(runner)
        skips = self.epoch_skips
        if get_world_size() > 1:
            skips = sum(all_gather_object(skips))
        files = self._merged()
        self.epoch_skips = 0
        if files and is_main_process():
            self._write_report(runner, files)
        if skips or files:
            runner.logger.warning(
                f'{when}: {skips} samples skipped; {len(files)} distinct unreadable files so far '
                f'(listed in {osp.join(runner.work_dir, self.report_file)}).')
        self._check_fraction(runner, files)

    def _write_report(self, runner, files: Dict[str, dict]) -> None:
        atomic_write_text(
            json.dumps(dict(num_files=len(files), files=files), indent=2, sort_keys=True),
            osp.join(runner.work_dir, self.report_file))

    def _check_fraction(self, runner, files: Dict[str, dict]) -> None:
        if self.max_skipped_fraction is None:
            return
        try:
            size = len(runner.train_dataloader.dataset)
        except Exception:
            return
        if size and len(files) > self.max_skipped_fraction * size:
            raise RuntimeError(
                f'{len(files)} of the {size} training samples are unreadable (more than '
                f'max_skipped_fraction={self.max_skipped_fraction}); see '
                f'{osp.join(runner.work_dir, self.report_file)}. Check the data path and disk.')

    def cleanup(self) -> None:
        """Remove the record folder (and the variable naming it)."""
        self._finalizer()

    def _on_failure(self, runner) -> None:
        """Training raised: report what this process collected (no
        collective call: the other ranks may not have failed), clean up.
        Never raises (the training error is the one to see)."""
        try:
            self.collect(runner)
            if self.files and is_main_process():
                self._write_report(runner, dict(self.files))
                runner.logger.error(
                    f'Training failed; {len(self.files)} distinct unreadable files were '
                    f'skipped so far (listed in '
                    f'{osp.join(runner.work_dir, self.report_file)}).')
        except Exception as err:  # noqa: BLE001
            runner.logger.error(f'BadSampleReportHook: could not write the report: {err!r}')
        finally:
            self.cleanup()

    # ------------------------------------------------------------ hook points
    def before_run(self, runner) -> None:
        # mmengine calls no hook when training raises: wrap the loop's run()
        loop = getattr(runner, '_train_loop', None)
        if not isinstance(loop, BaseLoop) or getattr(loop.run, '_bad_sample_guard', False):
            return
        run = loop.run

        @functools.wraps(run)
        def guarded_run(*args, **kwargs):
            try:
                return run(*args, **kwargs)
            except BaseException:
                self._on_failure(runner)
                raise

        guarded_run._bad_sample_guard = True
        loop.run = guarded_run

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self.collect(runner)

    def after_train_epoch(self, runner) -> None:
        self.summarize(runner, f'Epoch {runner.epoch + 1}' if not hasattr(
            runner.train_loop, 'dataloader_iterator') else f'Iteration {runner.iter}')

    def after_run(self, runner) -> None:
        self.collect(runner)
        self.cleanup()
