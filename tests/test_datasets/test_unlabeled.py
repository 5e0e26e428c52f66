# Copyright (c) mmdense contributors. All rights reserved.
import json
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from mmengine.registry import DefaultScope

from mmdense.datasets.unlabeled import UnlabeledImageDataset

from tests.harness.paths import COCO_TINY as COCO_TINY_DIR

COCO_TINY = Path(COCO_TINY_DIR)
LOAD = [dict(type='LoadImageFromFile')]


@pytest.fixture
def image_tree(tmp_path):
    """A folder of tiny images with a COCO json and a list file.

    Layout (under ``tmp_path / 'data'``)::

        imgs/a/1.jpg  imgs/a/2.jpg  imgs/b/3.jpg  imgs/0.jpg  imgs/4.png
        annotations/coco.json  annotations/list.txt
    """
    root = tmp_path / 'data'
    names = ['a/1.jpg', 'a/2.jpg', 'b/3.jpg', '0.jpg', '4.png']
    for i, name in enumerate(names):
        path = root / 'imgs' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        img = np.full((8 + i, 10, 3), 40 * i, dtype=np.uint8)
        assert cv2.imwrite(str(path), img)
    (root / 'annotations').mkdir()
    coco = dict(
        images=[
            dict(id=1, file_name='b/3.jpg', height=10, width=10),
            dict(id=2, file_name='a/1.jpg', height=8, width=10),
        ],
        annotations=[],
        categories=[])
    (root / 'annotations' / 'coco.json').write_text(json.dumps(coco))
    (root / 'annotations' / 'list.txt').write_text(
        '# images\n\na/2.jpg\n  4.png 7\n\n0.jpg\n')
    return root


@pytest.fixture
def mmdense_scope():
    """Resolve unscoped transform names like configs do."""
    with DefaultScope.overwrite_default_scope('mmdense'):
        yield


def _paths(dataset):
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def test_coco_json(image_tree):
    dataset = UnlabeledImageDataset(
        ann_file='annotations/coco.json',
        data_root=str(image_tree),
        data_prefix=dict(img_path='imgs/'))
    assert len(dataset) == 2
    assert _paths(dataset) == [
        str(image_tree / 'imgs' / 'b' / '3.jpg'),
        str(image_tree / 'imgs' / 'a' / '1.jpg'),
    ]
    info = dataset.get_data_info(1)
    assert info['sample_idx'] == 1
    assert set(info) == {'img_path', 'sample_idx'}


def test_list_file(image_tree):
    dataset = UnlabeledImageDataset(
        ann_file=str(image_tree / 'annotations' / 'list.txt'),
        data_prefix=dict(img_path=str(image_tree / 'imgs')))
    imgs = image_tree / 'imgs'
    assert _paths(dataset) == [
        str(imgs / 'a' / '2.jpg'),
        str(imgs / '4.png'),
        str(imgs / '0.jpg')
    ]


def test_glob(image_tree):
    root = str(image_tree)
    imgs = image_tree / 'imgs'
    dataset = UnlabeledImageDataset(
        data_root=root, data_prefix=dict(img_path='imgs'))
    assert _paths(dataset) == [str(imgs / '0.jpg')]
    dataset = UnlabeledImageDataset(
        img_glob='*/*.jpg', data_root=root, data_prefix=dict(img_path='imgs'))
    assert _paths(dataset) == [
        str(imgs / 'a' / '1.jpg'),
        str(imgs / 'a' / '2.jpg'),
        str(imgs / 'b' / '3.jpg')
    ]
    dataset = UnlabeledImageDataset(
        img_glob='**/*.*g', data_root=str(imgs), data_prefix=dict())
    assert len(dataset) == 5
    assert all(osp.isabs(p) and osp.isfile(p) for p in _paths(dataset))


def test_glob_folder_with_special_characters(tmp_path):
    folder = tmp_path / 'set [1]'
    folder.mkdir()
    assert cv2.imwrite(str(folder / 'x.jpg'), np.zeros((4, 4, 3), np.uint8))
    dataset = UnlabeledImageDataset(data_prefix=dict(img_path=str(folder)))
    assert _paths(dataset) == [str(folder / 'x.jpg')]


@pytest.mark.parametrize('kwargs, error, words', [
    (dict(ann_file='annotations/missing.json'), FileNotFoundError,
     ['missing.json', 'COCO json']),
    (dict(ann_file='annotations/missing.txt'), FileNotFoundError,
     ['missing.txt', 'list file']),
    (dict(ann_file='annotations/coco.csv'), ValueError, ['coco.csv']),
    (dict(data_prefix=dict(img_path='nowhere')), FileNotFoundError,
     ['nowhere', 'img_glob']),
    (dict(data_prefix=dict(img_path='imgs'), img_glob='*.bmp'), ValueError,
     ['*.bmp', 'imgs']),
    (dict(img_glob=''), ValueError, ['img_glob']),
])
def test_errors(image_tree, kwargs, error, words):
    with pytest.raises(error) as info:
        UnlabeledImageDataset(data_root=str(image_tree), **kwargs)
    for word in words:
        assert word in str(info.value)


def test_empty_sources(image_tree):
    ann = image_tree / 'annotations'
    (ann / 'empty.json').write_text(json.dumps(dict(images=[])))
    (ann / 'empty.txt').write_text('# nothing\n\n')
    (ann / 'bad.json').write_text(json.dumps(dict(annotations=[])))
    for name in ('empty.json', 'empty.txt'):
        with pytest.raises(ValueError, match=name):
            UnlabeledImageDataset(ann_file=str(ann / name))
    with pytest.raises(ValueError, match='"images"'):
        UnlabeledImageDataset(ann_file=str(ann / 'bad.json'))


def test_lazy_init_defers_listing(tmp_path):
    dataset = UnlabeledImageDataset(
        data_root=str(tmp_path / 'later'), lazy_init=True)
    with pytest.raises(FileNotFoundError, match='later'):
        dataset.full_init()


def test_load_image_pipeline(image_tree, mmdense_scope):
    dataset = UnlabeledImageDataset(
        ann_file='annotations/list.txt',
        data_root=str(image_tree),
        data_prefix=dict(img_path='imgs'),
        pipeline=LOAD)
    item = dataset[1]
    expected = cv2.imread(str(image_tree / 'imgs' / '4.png'))
    np.testing.assert_array_equal(item['img'], expected)
    assert item['img_shape'] == item['ori_shape'] == (12, 10)
    assert item['sample_idx'] == 1


def test_concat_dataset_like_coco_plus(image_tree, mmdense_scope):
    """COCO+ = a labelled split's json + an unlabelled folder."""
    from mmdense.registry import DATASETS
    common = dict(
        type='UnlabeledImageDataset',
        data_root=str(image_tree),
        data_prefix=dict(img_path='imgs/'),
        pipeline=LOAD)
    dataset = DATASETS.build(
        dict(
            type='ConcatDataset',
            datasets=[
                dict(common, ann_file='annotations/coco.json'),
                dict(common, img_glob='*/*.jpg'),
            ]))
    assert isinstance(dataset, ConcatDataset)
    assert len(dataset) == 2 + 3
    paths = [dataset[i]['img_path'] for i in range(len(dataset))]
    assert [osp.relpath(p, image_tree / 'imgs') for p in paths] == [
        'b/3.jpg', 'a/1.jpg', 'a/1.jpg', 'a/2.jpg', 'b/3.jpg'
    ]
    assert dataset[4]['img'].shape == (10, 10, 3)


@pytest.mark.skipif(
    not COCO_TINY.is_dir(),
    reason=f'real COCO subset not found at {COCO_TINY} (optional data)')
def test_real_coco_tiny(mmdense_scope):
    train = UnlabeledImageDataset(
        ann_file='annotations/instances_train2017.json',
        data_root=str(COCO_TINY),
        data_prefix=dict(img_path='train2017/'),
        pipeline=LOAD)
    assert len(train) == 80
    paths = _paths(train)
    assert all(osp.isfile(p) for p in paths)
    item = train[0]
    height, width = item['img'].shape[:2]
    assert item['img'].dtype == np.uint8 and min(height, width) > 100

    val_folder = UnlabeledImageDataset(
        data_root=str(COCO_TINY),
        data_prefix=dict(img_path='val2017'),
        pipeline=LOAD)
    coco_plus = ConcatDataset([train, val_folder])
    assert len(coco_plus) == 160
    assert coco_plus[159]['img'].ndim == 3
