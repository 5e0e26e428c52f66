# Copyright (c) mmdense contributors. All rights reserved.
"""UnlabeledImageDataset against hostile sources: COCO entries without a
file name, symlink loops under ``**``, file names that are not UTF-8, and a
folder of broken files."""
import glob
import json
import logging
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from mmdense.datasets.transforms.bad_samples import BAD_SAMPLE_DIR_ENV
from mmdense.datasets.unlabeled import UnlabeledImageDataset


def _image(path, value=0, size=(8, 10)):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), np.full(size + (3, ), value, np.uint8))


def _paths(dataset):
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def test_coco_entry_without_file_name_names_json_and_entry(tmp_path):
    good = [dict(id=1, file_name='a.jpg'), dict(id=2, file_name='b.jpg')]
    cases = {
        'null.json': (good + [dict(id=7, file_name=None)], ['entry 2', 'id 7', 'None']),
        'missing.json': (good + [dict(id=9, width=3)], ['entry 2', 'id 9', 'no "file_name"']),
        'noid.json': ([dict(file_name='')] + good, ['entry 0', "''"]),
        'number.json': (good[:1] + [dict(id=3, file_name=12)], ['entry 1', 'id 3', '12']),
        'notdict.json': (good + ['c.jpg'], ['entry 2', 'not an object']),
    }
    for name, (images, words) in cases.items():
        (tmp_path / name).write_text(json.dumps(dict(images=images)))
        with pytest.raises(ValueError) as err:
            UnlabeledImageDataset(ann_file=str(tmp_path / name))
        message = str(err.value)
        assert str(tmp_path / name) in message, message
        for word in words:
            assert word in message, (word, message)


@pytest.mark.timeout(60)
def test_recursive_glob_lists_each_file_once_despite_symlink_loops(tmp_path):
    # a normal tree: the same results as glob.glob(recursive=True)
    tree = tmp_path / 'tree'
    for name in ['0.jpg', 'a/1.jpg', 'a/2.png', 'a/b/3.jpg', 'a/b/c/4.jpg', 'd/5.jpg',
                 '.hidden/6.jpg', 'a/.7.jpg', 'e f [x]/8.jpg']:
        _image(tree / name)
    patterns = ['**/*.jpg', '**/*', '**', 'a/**/*.jpg', '**/b/*.jpg', '*/**/*.png',
                '.hidden/**/*.jpg', '**/.*.jpg', 'a/**']
    for pattern in patterns:
        expected = sorted(osp.relpath(p, tree) for p in glob.glob(
            glob.escape(str(tree)) + '/' + pattern, recursive=True) if osp.isfile(p))
        dataset = UnlabeledImageDataset(img_glob=pattern, data_root=str(tree))
        assert [osp.relpath(p, tree) for p in _paths(dataset)] == expected, pattern
    # several patterns: each file once, where first met
    dataset = UnlabeledImageDataset(img_glob=['a/*.jpg', '**/*.jpg'], data_root=str(tree))
    assert [osp.relpath(p, tree) for p in _paths(dataset)] == [
        'a/1.jpg', '0.jpg', 'a/b/3.jpg', 'a/b/c/4.jpg', 'd/5.jpg', 'e f [x]/8.jpg']

    # loops to the root and to a parent, a folder linking to itself, and an
    # alias of a sibling folder and of a file
    root = tmp_path / 'imgs'
    for name in ['0.jpg', 'a/1.jpg', 'a/b/2.jpg', 'c/3.jpg']:
        _image(root / name)
    os.symlink(root, root / 'a' / 'to_root')
    os.symlink('..', root / 'a' / 'b' / 'to_parent')
    os.symlink('.', root / 'c' / 'self')
    os.symlink('a', root / 'alias_of_a')
    os.symlink('0.jpg', root / 'same_as_0.jpg')
    dataset = UnlabeledImageDataset(img_glob='**/*.jpg', data_root=str(root))
    assert [osp.relpath(p, root) for p in _paths(dataset)] == [
        '0.jpg', 'a/1.jpg', 'a/b/2.jpg', 'c/3.jpg']
    # an outside folder reached through a symlink is still followed
    outside = tmp_path / 'outside'
    _image(outside / '9.jpg')
    os.symlink(outside, root / 'more')
    dataset = UnlabeledImageDataset(img_glob='**/*.jpg', data_root=str(root))
    assert [osp.relpath(p, root) for p in _paths(dataset)] == [
        '0.jpg', 'a/1.jpg', 'a/b/2.jpg', 'c/3.jpg', 'more/9.jpg']


class _RecordingHandler(logging.FileHandler):
    """A UTF-8 log file that remembers the records it failed to write."""

    def __init__(self, path):
        super().__init__(path, encoding='utf-8')
        self.failed = []

    def handleError(self, record):
        self.failed.append(record)


def test_non_utf8_file_names_are_listed_loaded_and_logged(tmp_path, monkeypatch):
    from mmdense.engine.hooks.bad_sample_hook import BadSampleReportHook
    folder = tmp_path / 'imgs'
    folder.mkdir()
    good = os.fsdecode(os.fsencode(str(folder)) + b'/caf\xe9.jpg')
    bad = os.fsdecode(os.fsencode(str(folder)) + b'/bro\xffken.jpg')
    with open(os.fsencode(good), 'wb') as f:
        f.write(cv2.imencode('.jpg', np.full((8, 10, 3), 90, np.uint8))[1].tobytes())
    with open(os.fsencode(bad), 'wb') as f:
        f.write(b'not an image')
    logger = MMLogger.get_instance('test_non_utf8', log_level='INFO')
    handler = _RecordingHandler(str(tmp_path / 'log.txt'))
    logger.addHandler(handler)
    monkeypatch.setattr(MMLogger, 'get_current_instance', classmethod(lambda cls: logger))
    try:
        with DefaultScope.overwrite_default_scope('mmdense'):
            dataset = UnlabeledImageDataset(
                data_root=str(folder),
                pipeline=[dict(type='RobustLoadImageFromFile', invalid='skip')])
            assert sorted(_paths(dataset)) == sorted([good, bad])
            monkeypatch.delenv(BAD_SAMPLE_DIR_ENV, raising=False)
            np.random.seed(0)
            for i in range(len(dataset)):  # the bad one is logged, another drawn
                assert dataset[i]['img'].shape == (8, 10, 3)
            # through BadSampleReportHook (records from dataloader workers)
            hook = BadSampleReportHook()

            class Runner:
                pass
            runner = Runner()
            runner.logger = logger
            try:
                assert dataset[_paths(dataset).index(bad)]['img_path'] == good
                assert hook.collect(runner) == [bad]
            finally:
                hook.after_run(runner)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert handler.failed == []
    text = open(tmp_path / 'log.txt', encoding='utf-8').read()
    assert text.count('bro\\xffken.jpg: cannot be decoded') == 2, text


@pytest.mark.timeout(60)
def test_dataset_of_broken_files_raises_a_clear_error(tmp_path, monkeypatch):
    from mmdense.datasets.transforms.bad_samples import AllSamplesInvalidError
    records = tmp_path / 'records'
    records.mkdir()
    monkeypatch.setenv(BAD_SAMPLE_DIR_ENV, str(records))
    folder = tmp_path / 'images'
    folder.mkdir()
    for i in range(3):
        (folder / f'{i}.jpg').write_bytes(b'')
    with DefaultScope.overwrite_default_scope('mmdense'):
        dataset = UnlabeledImageDataset(
            data_root=str(folder),
            pipeline=[dict(type='RobustLoadImageFromFile', invalid='skip')])
        with pytest.raises(AllSamplesInvalidError) as err:
            dataset[0]
    message = str(err.value)
    assert f"image folder '{folder}'" in message and 'all 3 of its samples' in message, message
    assert 'Cannot find valid image' not in message
    skipped = set()
    for name in os.listdir(records):
        skipped |= {json.loads(line)['path'] for line in open(records / name)}
    assert skipped == {str(folder / f'{i}.jpg') for i in range(3)}
    # the same for a list file, named by its path
    (tmp_path / 'list.txt').write_text('0.jpg\n1.jpg\n')
    with DefaultScope.overwrite_default_scope('mmdense'):
        dataset = UnlabeledImageDataset(
            ann_file=str(tmp_path / 'list.txt'), data_prefix=dict(img_path=str(folder)),
            pipeline=[dict(type='RobustLoadImageFromFile', invalid='skip')])
        with pytest.raises(AllSamplesInvalidError, match=r"list\.txt'.*all 2 of its samples"):
            dataset[1]
