# Copyright (c) mmdense contributors. All rights reserved.
"""ValidateSegMap: wrong-size, out-of-range and empty label maps."""
import json
import os

import numpy as np
import pytest

from mmdense.datasets.transforms.bad_samples import BAD_SAMPLE_DIR_ENV, InvalidAnnotationError
from mmdense.datasets.transforms.validation import ValidateSegMap


def _results(seg, h=8, w=10):
    return dict(img=np.zeros((h, w, 3), np.uint8), gt_seg_map=seg, seg_map_path='/d/lbl/a.png')


def test_valid_map_passes_unchanged():
    seg = np.random.default_rng(0).integers(0, 5, (8, 10)).astype(np.uint8)
    seg[0, 0] = 255
    out = ValidateSegMap(num_classes=5)(_results(seg.copy()))
    assert (out['gt_seg_map'] == seg).all()


def test_wrong_size(tmp_path, monkeypatch):
    monkeypatch.setenv(BAD_SAMPLE_DIR_ENV, str(tmp_path))
    seg = np.zeros((4, 5), np.uint8)
    with pytest.raises(InvalidAnnotationError, match=r'/d/lbl/a\.png.*size 4 x 5.*8 x 10'):
        ValidateSegMap(num_classes=5)(_results(seg))
    out = ValidateSegMap(num_classes=5, size_mismatch='resize')(_results(seg))
    assert out['gt_seg_map'].shape == (8, 10)
    assert ValidateSegMap(num_classes=5, size_mismatch='skip')(_results(seg)) is None
    records = [json.loads(line) for name in os.listdir(tmp_path)
               for line in open(tmp_path / name)]
    assert [r['kind'] for r in records] == ['label map', 'label map']


def test_out_of_range_ids():
    seg = np.zeros((8, 10), np.uint8)
    seg[1, 1], seg[2, 2], seg[3, 3] = 7, 200, 255
    with pytest.raises(InvalidAnnotationError, match=r'2 pixels with ids outside 0\.\.4.*7, 200'):
        ValidateSegMap(num_classes=5)(_results(seg.copy()))
    out = ValidateSegMap(num_classes=5, out_of_range='ignore')(_results(seg.copy()))
    assert out['gt_seg_map'][1, 1] == 255 and out['gt_seg_map'][2, 2] == 255
    assert ValidateSegMap(num_classes=5, out_of_range='skip')(_results(seg.copy())) is None
    neg = np.zeros((8, 10), np.int32)
    neg[0, 0] = -1
    with pytest.raises(InvalidAnnotationError):
        ValidateSegMap(num_classes=5, ignore_index=255)(_results(neg))


def test_empty_map():
    seg = np.full((8, 10), 255, np.uint8)
    assert ValidateSegMap(num_classes=5)(_results(seg.copy())) is not None  # keep
    with pytest.raises(InvalidAnnotationError, match='no labelled pixel'):
        ValidateSegMap(num_classes=5, empty='raise')(_results(seg.copy()))
    assert ValidateSegMap(num_classes=5, empty='skip')(_results(seg.copy())) is None


def test_bad_arguments_and_missing_map():
    with pytest.raises(ValueError, match='out_of_range'):
        ValidateSegMap(num_classes=5, out_of_range='drop')
    with pytest.raises(ValueError, match='num_classes'):
        ValidateSegMap(num_classes=0)
    with pytest.raises(KeyError, match='gt_seg_map'):
        ValidateSegMap(num_classes=5)(dict(img=np.zeros((2, 2, 3)), img_path='x.jpg'))


def test_in_the_synthetic_evaluation_pipeline():
    """The val/test pipeline with the validator (the config diff) works."""
    from mmengine.config import Config
    from mmdense.registry import DATASETS
    from tests.harness.reliability import DEMO
    cfg = Config.fromfile(DEMO)
    ds = cfg.test_dataloader.dataset
    ds.num_samples = 2
    ds.pipeline = [dict(type='ValidateSegMap', num_classes=cfg.num_classes)] + list(ds.pipeline)
    dataset = DATASETS.build(ds)
    out = dataset[1]
    assert out['data_samples'].gt_sem_seg.data.shape[-2:] == out['inputs'].shape[-2:]
