# Copyright (c) mmdense contributors. All rights reserved.
"""Write nested labelled subsets of an image list for semi-supervised fine-tuning.

MaskContrast (appendix F) fine-tunes on 1 %, 2 %, 5 %, 12.5 % and 100 % of
PASCAL VOC ``train_aug`` and averages three random splits. This tool draws one
split family per seed::

    python tools/dataset_converters/make_semi_splits.py \\
        --ann-file data/VOCdevkit/VOC2012/ImageSets/Segmentation/aug.txt \\
        --fractions 0.01 0.02 0.05 0.125 1.0 --seed 0 \\
        --out-dir data/VOCdevkit/VOC2012/ImageSets/Segmentation/semi

writes ``semi/1pct_seed0.txt``, ``2pct_seed0.txt``, ``5pct_seed0.txt``,
``12.5pct_seed0.txt`` and ``100pct_seed0.txt`` (one image name per line, sorted).

mmsegmentation's VOC layout keeps the masks of train_aug in two folders: the VOC
``train.txt`` images in ``SegmentationClass``, the SBD ones (``aug.txt``) in
``SegmentationClassAug``. With ``--partition .../train.txt`` every split is also
written as two lists, ``1pct_seed0_train.txt`` (the names also in ``train.txt``)
and ``1pct_seed0_rest.txt`` (the others), which the semi-supervised configs
(configs/benchmarks/semi_voc/) read as two datasets. mmseg's converter
(``tools/dataset_converters/voc_aug.py`` of mmsegmentation) writes ``trainaug.txt``
(10582 names), ``aug.txt`` and the masks.

How a split is drawn: the unique names of the list, sorted, are shuffled once
with ``random.Random(seed)``; the split of fraction ``f`` is the first
``max(1, floor(f * N + 0.5))`` names of that order. So the splits of one seed
are **nested** (1 % ⊂ 2 % ⊂ 5 % ⊂ ...), a seed always gives the same files
whatever the order of the input lines or of ``--fractions``, and different
seeds give different splits.
"""
import argparse
import math
import os
import os.path as osp
import random
import sys
from typing import Dict, List, Optional, Sequence


def read_list(path: str) -> List[str]:
    """Non-empty, stripped lines of ``path`` (the first column if there are several)."""
    with open(path) as f:
        return [line.split()[0] for line in f if line.strip()]


def write_list(path: str, names: Sequence[str]) -> None:
    with open(path, 'w') as f:
        f.writelines(name + '\n' for name in names)


def split_size(fraction: float, total: int) -> int:
    """``max(1, round-half-up(fraction * total))``."""
    return max(1, min(total, math.floor(fraction * total + 0.5)))


def fraction_tag(fraction: float) -> str:
    """``0.01 -> '1pct'``, ``0.125 -> '12.5pct'``, ``1.0 -> '100pct'``."""
    return f'{round(fraction * 100, 6):g}pct'


def make_splits(names: Sequence[str], fractions: Sequence[float], seed: int) -> Dict[float, List[str]]:
    """Nested random subsets of ``names``, one per fraction (each sorted).

    Args:
        names: image names; duplicates are counted once.
        fractions: each in (0, 1].
        seed: the split family.

    Returns:
        dict: fraction -> sorted list of names.
    """
    unique = sorted(set(names))
    if not unique:
        raise ValueError('the list is empty')
    for fraction in fractions:
        if not 0. < fraction <= 1.:
            raise ValueError(f'fractions must be in (0, 1], got {fraction}')
    order = list(unique)
    random.Random(seed).shuffle(order)
    return {f: sorted(order[:split_size(f, len(order))]) for f in fractions}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write nested labelled subsets of an image list '
                                     '(semi-supervised splits), deterministic per seed.')
    parser.add_argument('--ann-file', required=True, help='full list, e.g. VOC aug.txt (10582 names)')
    parser.add_argument('--fractions', type=float, nargs='+',
                        default=[0.01, 0.02, 0.05, 0.125, 1.0], help='labelled fractions in (0, 1]')
    parser.add_argument('--seed', type=int, default=0, help='split family (the paper averages 3)')
    parser.add_argument('--out-dir', required=True, help='where to write <pct>pct_seed<seed>.txt')
    parser.add_argument('--partition', help='also write each split as <split>_<stem>.txt (names '
                        'in this list) and <split>_rest.txt (the others), e.g. VOC train.txt')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    names = read_list(args.ann_file)
    try:
        splits = make_splits(names, args.fractions, args.seed)
    except ValueError as err:
        print(f'make_semi_splits: error: {args.ann_file}: {err}', file=sys.stderr)
        return 1
    duplicates = len(names) - len(set(names))
    os.makedirs(args.out_dir, exist_ok=True)
    print(f'{args.ann_file}: {len(set(names))} unique names'
          + (f' ({duplicates} duplicate lines ignored)' if duplicates else '') + f', seed {args.seed}')
    partition = set(read_list(args.partition)) if args.partition else None
    part_stem = osp.splitext(osp.basename(args.partition))[0] if args.partition else None
    if part_stem == 'rest':
        part_stem = 'rest-list'
    for fraction in sorted(splits):
        stem = osp.join(args.out_dir, f'{fraction_tag(fraction)}_seed{args.seed}')
        written = {stem + '.txt': splits[fraction]}
        if partition is not None:
            written[f'{stem}_{part_stem}.txt'] = [n for n in splits[fraction] if n in partition]
            written[f'{stem}_rest.txt'] = [n for n in splits[fraction] if n not in partition]
        for path, members in written.items():
            write_list(path, members)
            if not members:
                print(f'warning: {path} is empty; a dataset cannot be built from an empty '
                      'list (draw another seed or drop that dataset)', file=sys.stderr)
        sizes = ' + '.join(str(len(m)) for m in list(written.values())[1:])
        print(f'  {fraction:>7.2%}: {len(splits[fraction]):>6} names -> {stem}.txt'
              + (f' ({sizes} in _{part_stem} / _rest)' if partition is not None else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
