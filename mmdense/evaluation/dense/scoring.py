# Copyright (c) mmdense contributors. All rights reserved.
"""Small helpers shared by the evaluation protocols: K and seed lists,
per-run scores and their mean / std summary."""
import math
import sys
from typing import List, Optional, Sequence, Union

import numpy as np

from ..functional.unsup_seg import match_and_score


def k_list(num_clusters, default: int) -> List[int]:
    """K values: an int, a sequence, or None / empty for ``[default]``."""
    if num_clusters is None:
        return [int(default)]
    if isinstance(num_clusters, (int, np.integer)):
        return [int(num_clusters)]
    ks = [int(k) for k in num_clusters]
    return ks or [int(default)]


def seed_list(seeds: Union[int, Sequence[int]]) -> List[int]:
    """``n`` -> [0, ..., n-1]; a sequence is used as given."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f'`seeds` must be >= 1, got {seeds}')
        return list(range(int(seeds)))
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError('`seeds` is empty')
    return seeds


class _LabelledStream:
    """Writes to ``stream`` with ``label: `` before every redraw of an
    mmengine ``ProgressBar`` (which starts each redraw with a carriage return)."""

    def __init__(self, label: str, stream) -> None:
        self.prefix = f'{label}: '
        self.stream = stream
        self.started = False

    def write(self, text: str) -> None:
        if text.startswith('\r'):
            text = '\r' + self.prefix + text[1:]
        elif not self.started:
            text = self.prefix + text
        self.started = True
        self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(total: int, label: Optional[str] = None):
    """An mmengine ``ProgressBar`` over ``total`` tasks on stdout, each line
    starting with the stage name ``label`` (e.g. 'extracting features')."""
    from mmengine.utils import ProgressBar
    stream = sys.stdout if not label else _LabelledStream(label, sys.stdout)
    return ProgressBar(total, file=stream)


def _tracked(items: list, label: Optional[str]):
    bar = progress_bar(len(items), label)
    for item in items:
        yield item
        bar.update()
    bar.file.write('\n')


def track(items, progress: bool, label: Optional[str] = None):
    """``items``, through a progress bar named ``label`` when ``progress``."""
    if not progress:
        return items
    return _tracked(list(items), label)


def check_matching(matching: str, num_clusters: int, num_classes: int) -> None:
    if matching == 'hungarian' and num_clusters < num_classes:
        raise ValueError(f'hungarian matching needs num_clusters '
                         f'({num_clusters}) >= num_classes ({num_classes})')


def score_run(confusion: np.ndarray, matching: str, seed=None) -> dict:
    """One run's scores from its (K, C) confusion."""
    scores = match_and_score(confusion, matching)
    return dict(
        seed=seed,
        mIoU=float(scores['mIoU']),
        pAcc=float(scores['pAcc']),
        mAcc=float(scores['mAcc']),
        matching=scores['mode'],
        IoU=[None if math.isnan(v) else float(v) for v in scores['IoU']],
        mapping=scores['mapping'].tolist())


def summarize(runs: List[dict], num_clusters: int, num_classes: int, mode: str) -> dict:
    """Mean / population std of mIoU, pAcc and mAcc over runs."""
    out = dict(num_clusters=num_clusters, num_classes=num_classes,
               matching=runs[0]['matching'], mode=mode, runs=runs)
    for key in ('mIoU', 'pAcc', 'mAcc'):
        values = np.array([run[key] for run in runs], dtype=float)
        out[key] = float(values.mean())
        out[f'{key}_std'] = float(values.std()) if len(values) > 1 else 0.0
    return out
