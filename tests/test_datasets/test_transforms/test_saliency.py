# Copyright (c) mmdense contributors. All rights reserved.
"""Saliency masks: loading with the bad-input policies, and the area rule
(paper / released code) around the shared multi-view crop."""
import cv2
import numpy as np
import pytest

from mmdense.datasets.transforms import LoadSaliencyMask, MaskAreaRule
from mmdense.datasets.transforms.bad_samples import CorruptImageError
from mmdense.datasets.transforms.saliency import object_fraction_in_crop


def _results(tmp_path, name='a.jpg', size=(20, 30)):
    return dict(img_path=str(tmp_path / 'imgs' / name), img=np.zeros((*size, 3), np.uint8),
                seg_fields=[])


def _write(tmp_path, name, mask):
    (tmp_path / 'masks').mkdir(exist_ok=True)
    path = tmp_path / 'masks' / name
    assert cv2.imwrite(str(path), mask)
    return path


def test_loads_mask_as_seg_field(tmp_path):
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:15] = 1
    mask[12:15, 20:25] = 2
    _write(tmp_path, 'a.png', mask)
    out = LoadSaliencyMask(mask_dir=str(tmp_path / 'masks'))(_results(tmp_path))
    assert np.array_equal(out['gt_saliency'], mask)
    assert out['seg_fields'] == ['gt_saliency']


def test_size_mismatch_and_bad_files_name_the_file(tmp_path):
    _write(tmp_path, 'a.png', np.ones((21, 30), np.uint8))
    load = LoadSaliencyMask(mask_dir=str(tmp_path / 'masks'))
    with pytest.raises(CorruptImageError, match=r'a\.png.*21x30.*image is 20x30'):
        load(_results(tmp_path))
    with pytest.raises(FileNotFoundError, match=r'b\.png.*not found'):
        load(_results(tmp_path, 'b.jpg'))
    (tmp_path / 'masks' / 'c.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    with pytest.raises(CorruptImageError, match=r'c\.png'):
        load(_results(tmp_path, 'c.jpg'))
    colour = np.zeros((20, 30, 3), np.uint8)
    colour[..., 2] = 255
    _write(tmp_path, 'd.png', colour)
    with pytest.raises(CorruptImageError, match='colour'):
        load(_results(tmp_path, 'd.jpg'))


def test_skip_policies_return_none_and_record(tmp_path, monkeypatch):
    recorded = []
    monkeypatch.setattr('mmdense.datasets.transforms.saliency.record_bad_sample',
                        lambda path, reason, kind: recorded.append((path, reason, kind)))
    _write(tmp_path, 'a.png', np.ones((21, 30), np.uint8))
    _write(tmp_path, 'e.png', np.zeros((20, 30), np.uint8))
    load = LoadSaliencyMask(mask_dir=str(tmp_path / 'masks'), missing='skip', invalid='skip')
    assert load(_results(tmp_path)) is None
    assert load(_results(tmp_path, 'b.jpg')) is None
    assert load(_results(tmp_path, 'e.jpg')) is None  # empty='skip' (default)
    assert [r[2] for r in recorded] == ['saliency mask'] * 3
    assert 'no object' in recorded[2][1]
    keep = LoadSaliencyMask(mask_dir=str(tmp_path / 'masks'), empty='keep')
    assert keep(_results(tmp_path, 'e.jpg'))['gt_saliency'].sum() == 0


def _crop_cfg(scale=(0.05, 0.2)):
    return dict(type='MultiViewRandomResizedCrop',
                view_groups=[dict(num_views=2, size=16, scale=scale, overlap=False)], seed=0)


def test_object_fraction_in_crop():
    mask = np.zeros((10, 10), np.uint8)
    mask[0:2, 0:5] = 1  # 10 pixels
    assert object_fraction_in_crop(mask, (0, 0, 2, 2)) == pytest.approx(0.4)
    assert object_fraction_in_crop(np.zeros((4, 4)), (0, 0, 4, 4)) == 0.


@pytest.mark.parametrize('rule', ['official', 'paper'])
def test_area_rule_keeps_the_object_in_every_view(rule):
    mask = np.zeros((64, 64), np.uint8)
    mask[40:60, 40:60] = 3  # a small object in a corner: small crops often miss it
    rule_t = MaskAreaRule(_crop_cfg(), rule=rule, max_tries=50, on_failure='raise')
    for _ in range(20):
        results = dict(img=np.zeros((64, 64, 3), np.uint8), gt_saliency=mask,
                       seg_fields=['gt_saliency'], img_path='x.jpg')
        out = rule_t(results)
        for crop, view_mask in zip(out['view_crops'], out['gt_saliency']):
            if rule == 'paper':
                assert object_fraction_in_crop(mask, crop) >= 0.1
            else:
                assert 0.01 < np.count_nonzero(view_mask) / view_mask.size < 0.99
        assert results['gt_saliency'] is mask  # the input is left as it was


def test_area_rule_failure_policies(monkeypatch):
    mask = np.zeros((64, 64), np.uint8)
    mask[0, 0] = 1  # one pixel: no 16-px view reaches 1 % foreground... or 10 % of it, rarely
    results = dict(img=np.zeros((64, 64, 3), np.uint8), gt_saliency=mask,
                   seg_fields=['gt_saliency'], img_path='tiny.jpg')
    with pytest.raises(ValueError, match=r"tiny\.jpg.*2 tries"):
        MaskAreaRule(_crop_cfg((0.5, 1.0)), max_tries=2, on_failure='raise')(dict(results))
    recorded = []
    monkeypatch.setattr('mmdense.datasets.transforms.saliency.record_bad_sample',
                        lambda path, reason, kind: recorded.append(path))
    assert MaskAreaRule(_crop_cfg((0.5, 1.0)), on_failure='skip')(dict(results)) is None
    assert recorded == ['tiny.jpg']
    kept = MaskAreaRule(_crop_cfg((0.5, 1.0)), on_failure='keep')(dict(results))
    assert len(kept['img']) == 2
    with pytest.raises(KeyError, match='seg_field'):
        MaskAreaRule(_crop_cfg())(dict(results, seg_fields=[]))
