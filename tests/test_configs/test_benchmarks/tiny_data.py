# Copyright (c) mmdense contributors. All rights reserved.
"""Tiny datasets in the layouts the benchmark configs read, written on the fly.

Everything goes under one root with the configs' relative ``data_root``s
(``data/coco/``, ``data/VOCdevkit/VOC2012``, ``data/cityscapes/``,
``data/ade/ADEChallengeData2016``), so a config only needs its ``data_root``s
prefixed with that root. Images are 96 x 128 (H x W): a noisy background with
coloured rectangles, which are also the labelled regions.
"""
import json
import os
import os.path as osp
from typing import List, Sequence, Tuple

import cv2
import numpy as np

H, W = 96, 128
Box = Tuple[int, int, int, int]  # x1, y1, x2, y2


def _image(rng: np.random.Generator, boxes: Sequence[Box], colours: Sequence[int]) -> np.ndarray:
    img = rng.integers(0, 80, (H, W, 3), dtype=np.uint8)
    for (x1, y1, x2, y2), c in zip(boxes, colours):
        img[y1:y2, x1:x2] = np.array([(37 * c) % 256, (91 * c) % 256, (151 * c) % 256], np.uint8)
    return img


def _boxes(rng: np.random.Generator, n: int) -> List[Box]:
    out = []
    for _ in range(n):
        w, h = int(rng.integers(36, 60)), int(rng.integers(34, 50))
        x1, y1 = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
        out.append((x1, y1, x1 + w, y1 + h))
    return out


def _semantic(rng, classes: Sequence[int], n_images: int, ignore_border: bool = True):
    """(image, label) pairs; labels hold ``classes`` in rectangles, 0 elsewhere."""
    for _ in range(n_images):
        boxes = _boxes(rng, 2)
        cls = [int(c) for c in rng.choice(classes, size=2)]
        label = np.zeros((H, W), np.uint8)
        for (x1, y1, x2, y2), c in zip(boxes, cls):
            label[y1:y2, x1:x2] = c
        if ignore_border:
            label[:2] = 255
        yield _image(rng, boxes, cls), label


def make_coco(root: str, seed: int = 0) -> str:
    """COCO instance format, 4 train / 2 val images with a person and a car each
    (boxes and polygon masks); the 80 COCO categories are declared, as in COCO,
    so that an 80-class model's labels all map to a category id.
    Returns the data root (``<root>/data/coco/``)."""
    from mmdet.datasets import CocoDataset
    rng = np.random.default_rng(seed)
    data_root = osp.join(root, 'data', 'coco')
    categories = [dict(id=i + 1, name=n, supercategory='thing')
                  for i, n in enumerate(CocoDataset.METAINFO['classes'])]
    assert categories[0]['name'] == 'person' and categories[2]['name'] == 'car'
    os.makedirs(osp.join(data_root, 'annotations'), exist_ok=True)
    for split, count in (('train2017', 4), ('val2017', 2)):
        os.makedirs(osp.join(data_root, split), exist_ok=True)
        images, annotations = [], []
        for i in range(count):
            image_id = 100 * (split == 'val2017') + i + 1
            boxes = _boxes(rng, 2)
            cats = [1, 3]
            fname = f'{image_id:012d}.jpg'
            cv2.imwrite(osp.join(data_root, split, fname), _image(rng, boxes, cats))
            images.append(dict(id=image_id, file_name=fname, height=H, width=W))
            for (x1, y1, x2, y2), cat in zip(boxes, cats):
                # an octagon inside the box
                dx, dy = (x2 - x1) / 4, (y2 - y1) / 4
                poly = [x1 + dx, y1, x2 - dx, y1, x2, y1 + dy, x2, y2 - dy,
                        x2 - dx, y2, x1 + dx, y2, x1, y2 - dy, x1, y1 + dy]
                annotations.append(dict(
                    id=len(annotations) + 1 + 1000 * image_id, image_id=image_id,
                    category_id=cat, iscrowd=0, segmentation=[[float(v) for v in poly]],
                    bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                    area=float((x2 - x1) * (y2 - y1) - 2 * dx * dy)))
        with open(osp.join(data_root, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return data_root


def _write_list(path: str, names: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.writelines(n + '\n' for n in names)


def make_voc(root: str, seed: int = 1) -> str:
    """PASCAL VOC 2012 in mmseg's train_aug layout: 2 VOC train images
    (SegmentationClass), 2 SBD images (SegmentationClassAug), 2 val images;
    ``train.txt``, ``aug.txt``, ``trainaug.txt`` and ``val.txt``."""
    rng = np.random.default_rng(seed)
    data_root = osp.join(root, 'data', 'VOCdevkit', 'VOC2012')
    groups = (('train', 'SegmentationClass', 2), ('aug', 'SegmentationClassAug', 2),
              ('val', 'SegmentationClass', 2))
    lists = {}
    for split, mask_dir, count in groups:
        os.makedirs(osp.join(data_root, mask_dir), exist_ok=True)
        os.makedirs(osp.join(data_root, 'JPEGImages'), exist_ok=True)
        names = [f'2007_{split}{i:02d}' for i in range(count)]
        for n, (img, label) in zip(names, _semantic(rng, range(1, 21), count)):
            cv2.imwrite(osp.join(data_root, 'JPEGImages', n + '.jpg'), img)
            cv2.imwrite(osp.join(data_root, mask_dir, n + '.png'), label)
        lists[split] = names
        _write_list(osp.join(data_root, 'ImageSets', 'Segmentation', f'{split}.txt'), names)
    _write_list(osp.join(data_root, 'ImageSets', 'Segmentation', 'trainaug.txt'),
                lists['train'] + lists['aug'])
    return data_root


def make_cityscapes(root: str, seed: int = 2) -> str:
    """Cityscapes layout (``leftImg8bit`` / ``gtFine`` labelTrainIds), 2 train + 1 val."""
    rng = np.random.default_rng(seed)
    data_root = osp.join(root, 'data', 'cityscapes')
    for split, count in (('train', 2), ('val', 1)):
        img_dir = osp.join(data_root, 'leftImg8bit', split, 'aachen')
        ann_dir = osp.join(data_root, 'gtFine', split, 'aachen')
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i, (img, label) in enumerate(_semantic(rng, range(19), count)):
            stem = f'aachen_{i:06d}_000019'
            cv2.imwrite(osp.join(img_dir, f'{stem}_leftImg8bit.png'), img)
            cv2.imwrite(osp.join(ann_dir, f'{stem}_gtFine_labelTrainIds.png'), label)
    return data_root


def make_ade20k(root: str, seed: int = 3) -> str:
    """ADEChallengeData2016 layout, labels 0 (other, ignored) and 1..150; 2 train + 1 val."""
    rng = np.random.default_rng(seed)
    data_root = osp.join(root, 'data', 'ade', 'ADEChallengeData2016')
    for split, count in (('training', 2), ('validation', 1)):
        os.makedirs(osp.join(data_root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(data_root, 'annotations', split), exist_ok=True)
        for i, (img, label) in enumerate(_semantic(rng, range(1, 151), count, ignore_border=False)):
            stem = f'ADE_{split}_{i:08d}'
            cv2.imwrite(osp.join(data_root, 'images', split, stem + '.jpg'), img)
            cv2.imwrite(osp.join(data_root, 'annotations', split, stem + '.png'), label)
    return data_root


def make_coco_stuff27(root: str, seed: int = 4) -> str:
    """The layout ``tools/dataset_converters/cocostuff27.py`` writes: ``images/<split>``,
    ``annotations/<split>`` (coarse ids 0-26, 255 ignored), ``image_lists/<split>.txt``;
    2 train + 1 val images holding both thing (0-11) and stuff (12-26) classes."""
    rng = np.random.default_rng(seed)
    data_root = osp.join(root, 'data', 'coco_stuff27')
    for split, count in (('train2017', 2), ('val2017', 1)):
        os.makedirs(osp.join(data_root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(data_root, 'annotations', split), exist_ok=True)
        stems = []
        for i, (img, label) in enumerate(_semantic(rng, (3, 9, 14, 23), count)):
            stem = f'{i + 1:012d}'
            cv2.imwrite(osp.join(data_root, 'images', split, stem + '.jpg'), img)
            cv2.imwrite(osp.join(data_root, 'annotations', split, stem + '.png'), label)
            stems.append(stem)
        _write_list(osp.join(data_root, 'image_lists', f'{split}.txt'), stems)
    return data_root
