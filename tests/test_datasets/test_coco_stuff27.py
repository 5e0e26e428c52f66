# Copyright (c) mmdense contributors. All rights reserved.
"""COCO-Stuff-27: the fine-to-coarse table, the converter and the dataset."""
import importlib.util
import json
import logging
import os.path as osp

import cv2
import numpy as np
import pytest

from mmdense.datasets.coco_stuff27 import (COARSE_CLASSES, FINE_HIERARCHY,
                                           CocoStuff27Dataset,
                                           fine_to_coarse_lut,
                                           fine_to_coarse_table,
                                           map_fine_to_coarse)

from tests.harness.paths import REPO as REPO_ROOT

COCO_TINY_VAL = osp.join(
    osp.dirname(REPO_ROOT), 'shared', 'data', 'coco_tiny', 'annotations',
    'instances_val2017.json')


def _load_converter():
    path = osp.join(REPO_ROOT, 'tools', 'dataset_converters',
                    'cocostuff27.py')
    spec = importlib.util.spec_from_file_location('mmdense_cocostuff27', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_covers_182_fine_classes_12_things_15_stuff():
    table = fine_to_coarse_table()
    assert sorted(table) == list(range(182))
    assert len(COARSE_CLASSES) == 27 and len(set(COARSE_CLASSES)) == 27
    assert sorted(set(table.values())) == list(range(27))
    # COCO ids 1..91 are things (coarse 0-11), 92..182 stuff (12-26)
    assert all(table[i] < 12 for i in range(91))
    assert all(12 <= table[i] <= 26 for i in range(91, 182))
    coco_ids = [cid for members in FINE_HIERARCHY.values()
                for cid, _ in members]
    assert sorted(coco_ids) == list(range(1, 183))  # each id exactly once


@pytest.mark.parametrize('coco_id,coarse', [
    (1, 'person'), (3, 'vehicle'), (10, 'outdoor'), (16, 'animal'),
    (27, 'accessory'), (34, 'sports'), (44, 'kitchen'),
    (52, 'food'), (62, 'furniture'), (72, 'electronic'), (78, 'appliance'),
    (84, 'indoor'), (102, 'ceiling'), (115, 'floor'), (121, 'food-stuff'),
    (165, 'furniture-stuff'), (139, 'raw-material'), (167, 'textile'),
    (172, 'wall'), (181, 'window'), (96, 'building'), (149, 'ground'),
    (124, 'plant'), (157, 'sky'), (182, 'solid'), (113, 'structural'),
    (155, 'water')
])
def test_known_fine_classes(coco_id, coarse):
    lut = fine_to_coarse_lut()
    assert COARSE_CLASSES[lut[coco_id - 1]] == coarse


def test_coarse_ids_follow_the_pi_cie_stego_order():
    # things/indoor, things/outdoor, stuff/indoor, stuff/outdoor
    assert COARSE_CLASSES[:12] == (
        'electronic', 'appliance', 'food', 'furniture', 'indoor', 'kitchen',
        'accessory', 'animal', 'outdoor', 'person', 'sports', 'vehicle')
    assert COARSE_CLASSES[12:] == (
        'ceiling', 'floor', 'food-stuff', 'furniture-stuff', 'raw-material',
        'textile', 'wall', 'window', 'building', 'ground', 'plant', 'sky',
        'solid', 'structural', 'water')


def test_hand_made_label_map():
    # fine PNG ids: 0 person, 2 car, 156 sky-other, 123 grass, 181 wood
    fine = np.array([[0, 2, 255], [156, 123, 181]], np.uint8)
    coarse = map_fine_to_coarse(fine)
    assert coarse.dtype == np.uint8
    # 0 is a class (person -> 9), not "unlabeled"; 255 stays ignored
    np.testing.assert_array_equal(coarse, [[9, 11, 255], [23, 22, 24]])


def test_out_of_range_ids_error_or_ignore():
    fine = np.array([[0, 182], [200, 255]], np.uint8)
    with pytest.raises(ValueError, match=r'bad\.png.*182, 200'):
        map_fine_to_coarse(fine, name='bad.png')
    np.testing.assert_array_equal(
        map_fine_to_coarse(fine, on_invalid='ignore'), [[9, 255], [255, 255]])
    with pytest.raises(TypeError):
        map_fine_to_coarse(fine.astype(np.float32))


@pytest.mark.skipif(not osp.isfile(COCO_TINY_VAL),
                    reason='../shared/data/coco_tiny is not available')
def test_thing_hierarchy_matches_coco_annotations():
    with open(COCO_TINY_VAL) as f:
        categories = json.load(f)['categories']
    ours = {cid: (name, sup) for sup, members in FINE_HIERARCHY.items()
            for cid, name in members}
    assert len(categories) == 80
    for cat in categories:
        assert ours[cat['id']] == (cat['name'], cat['supercategory']), cat


def _write_stuff_root(root, labels):
    """COCO-Stuff layout with one jpg + fine label PNG per entry."""
    for name, label in labels.items():
        img_dir = root / 'images' / 'val2017'
        ann_dir = root / 'annotations' / 'val2017'
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        img = np.full(label.shape + (3, ), 128, np.uint8)
        cv2.imwrite(str(img_dir / f'{name}.jpg'), img)
        cv2.imwrite(str(ann_dir / f'{name}.png'), label)


FINE_A = np.array([[0, 0, 2, 2], [156, 156, 255, 255], [123, 123, 181, 181]],
                  np.uint8)
FINE_B = np.array([[71, 83], [101, 154]], np.uint8)


def test_converter_without_list_warns_and_converts(tmp_path, monkeypatch):
    conv = _load_converter()
    logs = []
    monkeypatch.setattr(conv, 'print_log',
                        lambda msg, logger=None, level=logging.INFO:
                        logs.append((level, msg)))
    stuff = tmp_path / 'stuff'
    _write_stuff_root(stuff, {'000000000001': FINE_A,
                              '000000000002': FINE_B})
    out = tmp_path / 'out'
    summary = conv.main(['--stuff-root', str(stuff), '--out-dir', str(out)])
    assert summary['num_images'] == 2 and summary['image_list'] is None
    warnings = [msg for level, msg in logs if level == logging.WARNING]
    assert len(warnings) == 1 and 'no --image-list' in warnings[0]
    assert 'curated' in warnings[0]
    a = cv2.imread(str(out / 'annotations/val2017/000000000001.png'),
                   cv2.IMREAD_UNCHANGED)
    b = cv2.imread(str(out / 'annotations/val2017/000000000002.png'),
                   cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(
        a, [[9, 9, 11, 11], [23, 23, 255, 255], [22, 22, 24, 24]])
    # 72 tv -> electronic, 84 book -> indoor, 102 ceiling-other, 155 sea
    np.testing.assert_array_equal(b, [[0, 4], [12, 26]])
    assert (out / 'image_lists/val2017.txt').read_text().split() == [
        '000000000001', '000000000002']
    assert osp.islink(out / 'images/val2017')


def test_converter_with_list_and_bad_inputs(tmp_path):
    conv = _load_converter()
    stuff = tmp_path / 'stuff'
    _write_stuff_root(stuff, {'000000000001': FINE_A,
                              '000000000002': FINE_B})
    listing = tmp_path / 'curated.txt'
    listing.write_text('# curated\n2\n000000000002.jpg\n')
    summary = conv.convert(str(stuff), str(tmp_path / 'out'),
                           image_list=str(listing), link_images=False)
    assert summary['num_images'] == 1 and summary['images'] == 'skipped'
    assert not (tmp_path / 'out/annotations/val2017/000000000001.png').exists()

    listing.write_text('000000000001\n000000000003\n')
    with pytest.raises(FileNotFoundError, match='000000000003.png'):
        conv.convert(str(stuff), str(tmp_path / 'out2'),
                     image_list=str(listing))
    with pytest.raises(FileNotFoundError, match='no_such_dir'):
        conv.convert(str(tmp_path / 'no_such_dir'), str(tmp_path / 'out3'))

    bad = FINE_B.copy()
    bad[0, 0] = 200
    _write_stuff_root(stuff, {'000000000002': bad})
    with pytest.raises(ValueError, match='000000000002.png.*200'):
        conv.convert(str(stuff), str(tmp_path / 'out4'))
    summary = conv.convert(str(stuff), str(tmp_path / 'out5'),
                           on_invalid='ignore')
    b = cv2.imread(str(tmp_path / 'out5/annotations/val2017/000000000002.png'),
                   cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(b, [[255, 4], [12, 26]])


def test_dataset_loads_a_converted_set(tmp_path):
    conv = _load_converter()
    stuff = tmp_path / 'stuff'
    _write_stuff_root(stuff, {'000000000001': FINE_A,
                              '000000000002': FINE_B})
    out = tmp_path / 'out'
    conv.convert(str(stuff), str(out))
    from mmdense.registry import DATASETS
    dataset = DATASETS.build(
        dict(
            type='CocoStuff27Dataset',
            data_root=str(out),
            ann_file='image_lists/val2017.txt',
            data_prefix=dict(
                img_path='images/val2017',
                seg_map_path='annotations/val2017'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='mmseg.LoadAnnotations'),
                dict(type='mmseg.PackSegInputs')
            ]))
    assert isinstance(dataset, CocoStuff27Dataset)
    assert len(dataset) == 2
    assert dataset.metainfo['classes'] == COARSE_CLASSES
    assert len(dataset.metainfo['palette']) == 27
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 3, 4)
    gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(
        gt, [[9, 9, 11, 11], [23, 23, 255, 255], [22, 22, 24, 24]])
    with pytest.raises(ValueError, match='reduce_zero_label'):
        CocoStuff27Dataset(data_root=str(out), reduce_zero_label=True,
                           lazy_init=True)
