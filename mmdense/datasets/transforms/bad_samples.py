# Copyright (c) mmdense contributors. All rights reserved.
"""The bad-input policy every loader shares (images, label maps, and the
masks and region maps of later methods).

A broken input is either an error naming the file (``'raise'``) or a
documented, logged skip (``'skip'``): :func:`record_bad_sample` records it
for ``BadSampleReportHook``, which warns once per file, summarises per epoch
and writes ``bad_samples.json``, also from dataloader workers.
"""
import json
import logging
import os
import os.path as osp
from typing import Set, Tuple

from mmengine.logging import print_log

#: Environment variable naming the folder where skipped samples are recorded
#: (set by ``BadSampleReportHook`` before dataloader workers start).
BAD_SAMPLE_DIR_ENV = 'MMDENSE_BAD_SAMPLE_DIR'

POLICIES = ('raise', 'skip')
_logged: Set[str] = set()  # per process: files already warned about


class CorruptImageError(ValueError):
    """An image file exists but is not a usable image."""


class InvalidAnnotationError(ValueError):
    """A ground-truth label map does not fit its image or its classes."""


class AllSamplesInvalidError(RuntimeError):
    """A training dataset yields no usable sample: every one the pipeline
    tried was skipped (see :class:`RefetchGuardMixin`)."""


def display_path(path) -> str:
    """``path`` as printable text: a file name that is not valid UTF-8 (a
    bytes name on Linux, held by Python as lone surrogates) shows its bad
    bytes as ``\\xNN`` instead of making a log handler fail."""
    if isinstance(path, bytes):
        return path.decode('utf-8', 'backslashreplace')
    text = str(path)
    try:
        text.encode('utf-8')
        return text
    except UnicodeEncodeError:
        return text.encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')


def record_bad_sample(path: str, reason: str, kind: str = 'image') -> None:
    """Record a skipped sample for ``BadSampleReportHook``.

    Appends one JSON line to ``$MMDENSE_BAD_SAMPLE_DIR/<pid>.jsonl`` (one file
    per process, so dataloader workers never interleave). Without the hook
    (no such variable), the file is logged as a warning, once per process.
    """
    folder = os.environ.get(BAD_SAMPLE_DIR_ENV)
    if folder and osp.isdir(folder):
        line = json.dumps(dict(path=str(path), reason=reason, kind=kind)) + '\n'
        fd = os.open(osp.join(folder, f'{os.getpid()}.jsonl'),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode('utf-8'))
        finally:
            os.close(fd)
        return
    if path not in _logged:
        _logged.add(path)
        print_log(f'Skipped {kind} {display_path(path)}: {display_path(reason)}',
                  logger='current', level=logging.WARNING)


def check_policy(name: str, value: str, allowed: Tuple[str, ...] = POLICIES) -> str:
    """``value`` if it is one of ``allowed``, else a ValueError naming ``name``."""
    if value not in allowed:
        raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
    return value


class RefetchGuardMixin:
    """For a :class:`mmengine.dataset.BaseDataset` subclass (put it first in
    the bases): a clear :class:`AllSamplesInvalidError` instead of mmengine's
    ``Cannot find valid image after 1000!`` when the pipeline skips sample
    after sample.

    In training, mmengine's ``__getitem__`` draws another random sample each
    time the pipeline returns None (a skipped, unreadable file), up to
    ``max_refetch`` times. Here, the draws of one ``__getitem__`` stop as soon
    as every sample of the dataset has been tried and skipped (a dataset of
    broken files: no need for ``max_refetch`` draws), or after
    ``max_refetch + 1`` draws in a row; the error names the dataset
    (:meth:`describe`), how many distinct samples were skipped, and where
    they are reported. Test mode behaves as in mmengine.
    """

    def describe(self) -> str:
        """Names the dataset in error messages (its class, ann file, data root)."""
        parts = []
        for attr in ('ann_file', 'data_root'):
            value = getattr(self, attr, None)
            if value:
                parts.append(f'{attr}={display_path(value)!r}')
        return f'{type(self).__name__}({", ".join(parts)})'

    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            print_log('Please call `full_init()` method manually to accelerate the speed.',
                      logger='current', level=logging.WARNING)
            self.full_init()
        if self.test_mode:
            return super().__getitem__(idx)
        tried = set()
        draws = 0
        while True:
            data = self.prepare_data(idx)
            draws += 1
            if data is not None:
                return data
            tried.add(idx)
            size = len(self)
            if len(tried) >= size or draws > self.max_refetch:
                break
            idx = self._rand_another()
        if len(tried) >= size:
            what = (f'all {size} of its samples were skipped by the pipeline '
                    f'({draws} draws in a row)')
        else:
            what = (f'{draws} draws in a row were skipped by the pipeline '
                    f'({len(tried)} distinct samples of {size}; max_refetch='
                    f'{self.max_refetch})')
        raise AllSamplesInvalidError(
            f'{self.describe()} yields no usable training sample: {what}. Each skipped file '
            f'is warned about with its reason and listed in the work dir\'s bad_samples.json '
            f'(BadSampleReportHook). Check the data path, the disk and the files.')
