# Copyright (c) mmdense contributors. All rights reserved.
"""The bad-input policy every loader shares (images, label maps, and the
masks and region maps of later methods).

A broken input is either an error naming the file (``'raise'``) or a
documented, logged skip (``'skip'``): :func:`record_bad_sample` records it
for ``BadSampleReportHook``, which warns once per file, summarises per epoch
and writes ``bad_samples.json``, also from dataloader workers.
"""
import json
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
        print_log(f'Skipped {kind} {path}: {reason}', logger='current', level=30)


def check_policy(name: str, value: str, allowed: Tuple[str, ...] = POLICIES) -> str:
    """``value`` if it is one of ``allowed``, else a ValueError naming ``name``."""
    if value not in allowed:
        raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
    return value
