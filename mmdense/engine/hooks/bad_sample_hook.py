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
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Optional

from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook

from mmdense.datasets.transforms.bad_samples import BAD_SAMPLE_DIR_ENV
from mmdense.utils.fileio import atomic_write_text
from mmdense.registry import HOOKS


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
        self.record_dir = tempfile.mkdtemp(prefix='mmdense-bad-samples-')
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
                        runner.logger.warning(f"Skipped {rec.get('kind', 'image')} "
                                              f"{rec['path']}: {rec.get('reason', '')}")
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
            atomic_write_text(
                json.dumps(dict(num_files=len(files), files=files), indent=2, sort_keys=True),
                osp.join(runner.work_dir, self.report_file))
        if skips or files:
            runner.logger.warning(
                f'{when}: {skips} samples skipped; {len(files)} distinct unreadable files so far '
                f'(listed in {osp.join(runner.work_dir, self.report_file)}).')
        self._check_fraction(runner, files)

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

    # ------------------------------------------------------------ hook points
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self.collect(runner)

    def after_train_epoch(self, runner) -> None:
        self.summarize(runner, f'Epoch {runner.epoch + 1}' if not hasattr(
            runner.train_loop, 'dataloader_iterator') else f'Iteration {runner.iter}')

    def after_run(self, runner) -> None:
        self.collect(runner)
        if os.environ.get(BAD_SAMPLE_DIR_ENV) == self.record_dir:
            del os.environ[BAD_SAMPLE_DIR_ENV]
        shutil.rmtree(self.record_dir, ignore_errors=True)
