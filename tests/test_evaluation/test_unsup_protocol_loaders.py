# Copyright (c) mmdense contributors. All rights reserved.
"""The k-means test loaders of the other unsupervised-segmentation datasets:
PASCAL VOC 2012 val (21 classes), COCO-Things (the 12 thing classes of
COCO-Stuff-27, stuff ignored) and Cityscapes-27 (label ids 7..33, void
ignored). Each mapping on a hand-made label map, each config end to end on a
tiny generated dataset with a toy model through ``run_unsup_eval``."""
import copy
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmdense.datasets.cityscapes27 import (CITYSCAPES27_CLASSES, Cityscapes27Dataset,
                                           label_id_to_27_lut, map_label_ids_to_27)
from mmdense.datasets.coco_stuff27 import COARSE_CLASSES, CocoStuff27Dataset
from mmdense.evaluation import run_unsup_eval
from mmdense.registry import MODELS
from mmdense.utils.config_validation import validate_config

from tests.harness.paths import REPO
from tests.test_configs.test_benchmarks import tiny_data
from tests.test_package.test_new_method_plugs_in import TOY  # registers ToyDenseMethod

BASES = osp.join(REPO, 'configs', '_base_', 'datasets')
SIZE = 128  # test-time image size (8 x 8 toy features: enough vectors for K = 27)


# ------------------------------------------------------------------ mappings
def test_cityscapes27_maps_label_ids_7_to_33_and_ignores_void():
    label = np.array([[0, 1, 2, 3, 4, 5, 6],
                      [7, 8, 23, 24, 26, 33, 255],
                      [34, 100, 7, 7, 33, 0, 11]], np.uint8)
    out = map_label_ids_to_27(label)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], [255] * 7)  # the void group
    np.testing.assert_array_equal(out[1], [0, 1, 16, 17, 19, 26, 255])
    np.testing.assert_array_equal(out[2], [255, 255, 0, 0, 26, 255, 4])
    assert CITYSCAPES27_CLASSES[0] == 'road' and CITYSCAPES27_CLASSES[16] == 'sky'
    assert CITYSCAPES27_CLASSES[19] == 'car' and CITYSCAPES27_CLASSES[26] == 'bicycle'
    assert len(CITYSCAPES27_CLASSES) == 27
    assert (label_id_to_27_lut()[7:34] == np.arange(27)).all()
    with pytest.raises(ValueError):
        map_label_ids_to_27(np.zeros((2, 2, 3), np.uint8))


def test_cityscapes27_dataset_label_map_equals_the_lut():
    table = Cityscapes27Dataset.get_label_map(None)
    lut = label_id_to_27_lut()
    assert table == {i: int(lut[i]) for i in range(34)}
    # a class subset composes with the id mapping
    sub = Cityscapes27Dataset.get_label_map(('road', 'car'))
    assert sub[7] == 0 and sub[26] == 1 and sub[8] == 255 and sub[0] == 255


def test_coco_things_keeps_thing_ids_and_ignores_stuff():
    cfg = Config.fromfile(osp.join(BASES, 'coco_things_unsup.py'))
    classes = cfg.test_dataloader.dataset.metainfo.classes
    assert tuple(classes) == tuple(COARSE_CLASSES[:12])
    label_map = CocoStuff27Dataset.get_label_map(classes)
    coarse = np.array([[0, 5, 11, 12], [20, 26, 255, 3]], np.uint8)
    mapped = coarse.copy()
    for old, new in label_map.items():  # what mmseg.LoadAnnotations does
        mapped[coarse == old] = new
    np.testing.assert_array_equal(mapped, [[0, 5, 11, 255], [255, 255, 255, 3]])
    assert cfg.test_evaluator == dict(type='UnsupervisedSegMetric', num_classes=12)


# ------------------------------------------------------------------ tiny data
def make_cityscapes_label_ids(root: str, seed: int = 5, count: int = 2) -> str:
    """Cityscapes val layout with *label-id* PNGs (road 7 below, sky 23 above,
    a car 26 box, the ego vehicle 1 at the bottom, rectification border 2)."""
    rng = np.random.default_rng(seed)
    data_root = osp.join(root, 'data', 'cityscapes')
    img_dir = osp.join(data_root, 'leftImg8bit', 'val', 'aachen')
    ann_dir = osp.join(data_root, 'gtFine', 'val', 'aachen')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    colours = {7: (128, 64, 128), 23: (180, 130, 70), 26: (142, 0, 0), 1: (0, 0, 0), 2: (5, 5, 5)}
    for i in range(count):
        label = np.full((96, 128), 23, np.uint8)
        label[48:] = 7
        x = int(rng.integers(10, 80))
        label[40:70, x:x + 36] = 26
        label[88:] = 1
        label[:, :2] = 2
        img = np.zeros((96, 128, 3), np.uint8)
        for lid, c in colours.items():
            img[label == lid] = c
        img = np.clip(img.astype(int) + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
        stem = f'aachen_{i:06d}_000019'
        cv2.imwrite(osp.join(img_dir, stem + '_leftImg8bit.png'), img)
        cv2.imwrite(osp.join(ann_dir, stem + '_gtFine_labelIds.png'), label)
    return data_root


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('unsup_tiny'))
    tiny_data.make_voc(root)
    tiny_data.make_coco_stuff27(root)
    make_cityscapes_label_ids(root)
    return root


def _toy_model():
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(TOY))
    model.init_weights()
    return model.eval()


def _loader(base: str, data_root: str):
    cfg = Config.fromfile(osp.join(BASES, base))
    loader = copy.deepcopy(cfg.test_dataloader)
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader.dataset.data_root = osp.join(data_root, loader.dataset.data_root)
    for t in loader.dataset.pipeline:
        if t.type == 'mmseg.Resize':
            t.scale = (SIZE, SIZE)
        elif t.type == 'mmseg.ResizeShortestEdge':
            t.scale = SIZE
        elif t.type == 'CenterCrop':
            t.crop_size = SIZE
    return cfg, Runner.build_dataloader(loader.to_dict())


@pytest.mark.parametrize('base,num_classes,images,labels', [
    ('voc12_unsup.py', 21, 2, set(range(21)) | {255}),
    ('coco_things_unsup.py', 12, 1, set(range(12)) | {255}),
    ('cityscapes27_unsup.py', 27, 2, {0, 16, 19, 255}),
])
def test_loader_runs_kmeans_end_to_end(base, num_classes, images, labels, data_dir):
    cfg, loader = _loader(base, data_dir)
    assert cfg.test_evaluator.num_classes == num_classes
    assert len(loader.dataset) == images
    assert len(loader.dataset.metainfo['classes']) == num_classes
    seen = set()
    for batch in loader:
        for sample in batch['data_samples']:
            gt = sample.gt_sem_seg.data
            assert tuple(gt.shape[-2:]) == (SIZE, SIZE)
            seen |= set(np.unique(gt.numpy()).tolist())
    assert seen <= labels and seen - {255}
    if base == 'cityscapes27_unsup.py':  # road, sky, car; void (ego vehicle, border) ignored
        assert seen == {0, 16, 19, 255}
    if base == 'coco_things_unsup.py':
        # tiny COCO-Stuff-27: boxes of 3, 9 (things) or 14, 23 (stuff) on 0 (a thing class)
        assert seen - {255} <= {0, 3, 9}
    res = run_unsup_eval(_toy_model(), loader, mode='kmeans', seeds=1, niter=5, progress=False)
    assert res[0]['num_classes'] == num_classes == res[0]['num_clusters']
    assert res[0]['matching'] == 'hungarian'
    assert 0.0 <= res[0]['mIoU'] <= 100.0 and 0.0 < res[0]['pAcc'] <= 100.0


@pytest.mark.parametrize('base', ['voc12_unsup.py', 'coco_things_unsup.py', 'cityscapes27_unsup.py'])
def test_loader_composes_into_a_method_config(base, tmp_path):
    """``_base_ = [<method config>, <loader>]``, as the K = 27 SlotCon config
    composes COCO-Stuff-27: the result validates (every type resolves)."""
    method = osp.join(REPO, 'configs', 'slotcon', 'slotcon_resnet50_8xb64-coslr-800e_coco.py')
    path = tmp_path / 'composed.py'
    path.write_text(f"_base_ = [{method!r}, {osp.join(BASES, base)!r}]\n")
    cfg = Config.fromfile(str(path))
    assert cfg.test_evaluator.type == 'UnsupervisedSegMetric'
    validate_config(cfg, 'test')
