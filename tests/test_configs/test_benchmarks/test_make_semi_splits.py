# Copyright (c) mmdense contributors. All rights reserved.
"""tools/dataset_converters/make_semi_splits.py: sizes, nesting, determinism."""
import os.path as osp
import random

import pytest

from .conftest import load_tool
from .test_benchmark_configs import SEMI, load

FRACTIONS = ['0.01', '0.02', '0.05', '0.125', '1.0']
TAGS = ['1pct', '2pct', '5pct', '12.5pct', '100pct']
N = 10582  # PASCAL VOC train_aug


@pytest.fixture(scope='module')
def tool():
    return load_tool('dataset_converters/make_semi_splits.py')


@pytest.fixture
def trainaug(tmp_path):
    names = [f'{2007 + i % 6}_{i:06d}' for i in range(N)]
    path = tmp_path / 'trainaug.txt'
    path.write_text(''.join(n + '\n' for n in names))
    train = tmp_path / 'train.txt'
    train.write_text(''.join(n + '\n' for n in names[::7]))
    return dict(path=str(path), names=names, train=str(train), train_names=set(names[::7]))


def run(tool, ann_file, out_dir, seed=0, fractions=FRACTIONS, extra=()):
    assert tool.main(['--ann-file', ann_file, '--fractions', *fractions, '--seed', str(seed),
                      '--out-dir', str(out_dir), *extra]) == 0
    return {tag: open(osp.join(out_dir, f'{tag}_seed{seed}.txt')).read().split()
            for tag in TAGS[:len(fractions)]}


def test_sizes_and_nesting(tool, trainaug, tmp_path):
    splits = run(tool, trainaug['path'], tmp_path / 'out')
    assert [len(splits[t]) for t in TAGS] == [106, 212, 529, 1323, N]
    for small, large in zip(TAGS, TAGS[1:]):
        assert set(splits[small]) < set(splits[large])
    assert set(splits['100pct']) == set(trainaug['names'])
    for names in splits.values():
        assert names == sorted(names) and len(set(names)) == len(names)


def test_deterministic_by_seed(tool, trainaug, tmp_path):
    first = run(tool, trainaug['path'], tmp_path / 'a', seed=0)
    again = run(tool, trainaug['path'], tmp_path / 'b', seed=0)
    assert first == again
    # the order of the input lines and of --fractions does not matter
    shuffled = list(trainaug['names'])
    random.Random(123).shuffle(shuffled)
    path = tmp_path / 'shuffled.txt'
    path.write_text(''.join(n + '\n' for n in shuffled))
    assert run(tool, str(path), tmp_path / 'c', seed=0, fractions=FRACTIONS[::-1]) == first
    other = run(tool, trainaug['path'], tmp_path / 'd', seed=1)
    assert other['1pct'] != first['1pct'] and len(other['1pct']) == 106
    assert set(other['1pct']) < set(other['2pct'])


def test_partition_for_the_mmseg_voc_layout(tool, trainaug, tmp_path):
    out = tmp_path / 'semi'
    splits = run(tool, trainaug['path'], out, extra=['--partition', trainaug['train']])
    for tag in TAGS:
        in_train = open(out / f'{tag}_seed0_train.txt').read().split()
        rest = open(out / f'{tag}_seed0_rest.txt').read().split()
        assert set(in_train) <= trainaug['train_names']
        assert not set(rest) & trainaug['train_names']
        assert sorted(in_train + rest) == splits[tag]
        assert in_train and rest


def test_file_names_are_what_the_semi_configs_read(tool, trainaug, tmp_path):
    out = tmp_path / 'semi'
    run(tool, trainaug['path'], out, extra=['--partition', trainaug['train']])
    written = {p.name for p in out.iterdir()}
    for path in SEMI:
        for dataset in load(path).train_dataloader.dataset.datasets:
            assert osp.basename(dataset.ann_file) in written


def test_duplicates_and_bad_fractions(tool, tmp_path, capsys):
    path = tmp_path / 'dups.txt'
    path.write_text('b\na\nb\nc extra-column\n\n')
    out = tmp_path / 'o'
    assert tool.main(['--ann-file', str(path), '--fractions', '0.5', '1.0',
                      '--out-dir', str(out)]) == 0
    assert open(out / '100pct_seed0.txt').read().split() == ['a', 'b', 'c']
    assert len(open(out / '50pct_seed0.txt').read().split()) == 2
    assert '1 duplicate' in capsys.readouterr().out
    assert tool.main(['--ann-file', str(path), '--fractions', '1.5', '--out-dir', str(out)]) == 1
    assert 'fractions must be in (0, 1]' in capsys.readouterr().err
    assert tool.main(['--ann-file', str(path), '--fractions', '0.01', '--out-dir', str(out)]) == 0
    assert len(open(out / '1pct_seed0.txt').read().split()) == 1  # never empty
