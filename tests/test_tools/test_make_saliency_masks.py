# Copyright (c) mmdense contributors. All rights reserved.
"""tools/dataset_converters/make_saliency_masks.py end to end on a few
synthetic scenes: masks without any downloaded weights, whose IoU with the
planted objects is well above the all-foreground baseline; too-small masks
and unreadable images are listed, not written."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from mmdense.apis.saliency_masks import (centre_prior, mask_scores, pseudo_labels,
                                         spectral_residual)
from mmdense.datasets.synthetic_scenes import SyntheticSceneDataset
from tests.harness.paths import REPO


def _tool():
    spec = importlib.util.spec_from_file_location(
        '_make_saliency_masks', osp.join(REPO, 'tools', 'dataset_converters',
                                         'make_saliency_masks.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scores_and_baselines():
    gt = np.zeros((10, 10), bool)
    gt[2:6, 2:6] = True
    assert mask_scores(gt, gt) == (1., 1.)
    iou, f = mask_scores(np.ones_like(gt), gt)
    assert iou == pytest.approx(0.16) and 0.16 < f < 1
    assert mask_scores(np.zeros_like(gt), np.zeros_like(gt)) == (1., 1.)
    assert 0.3 < centre_prior(90, 120).mean() < 0.4
    labels = pseudo_labels(np.linspace(0, 1, 100).reshape(10, 10))
    assert set(np.unique(labels)) == {0, 1, 255}


def test_spectral_residual_finds_a_blob():
    img = np.full((64, 64, 3), 128, np.uint8)
    cv2.circle(img, (40, 20), 6, (20, 200, 30), -1)
    sal = spectral_residual(img)
    assert sal.shape == (64, 64) and sal[20, 40] > np.median(sal)


@pytest.mark.slow
def test_tool_end_to_end_on_synthetic_scenes(tmp_path):
    scenes = SyntheticSceneDataset(num_samples=12, img_size=64, objects_per_image=(1, 2),
                                   object_scale=(0.4, 0.6), seed=3, object_masks=True)
    img_dir = tmp_path / 'imgs'
    img_dir.mkdir()
    planted = {}
    for i in range(len(scenes)):
        info = scenes.get_data_info(i)
        cv2.imwrite(str(img_dir / f'{i:02d}.png'), info['img'])
        planted[f'{i:02d}.png'] = info['gt_saliency'] > 0
    (img_dir / 'broken.jpg').write_bytes(b'\xff\xd8\xff not a jpeg')
    out = tmp_path / 'masks'
    result = _tool().main([str(img_dir), str(out), '--rounds', '1', '--epochs', '1',
                           '--size', '64', '--min-steps', '150', '--min-fraction', '0.05',
                           '--no-progress'])
    report = json.load(open(out / 'saliency_report.json'))
    assert list(report['unreadable']) == ['broken.jpg']
    assert result['coverage']['images'] == 13
    assert result['coverage']['written'] + result['coverage']['too_small'] == 12
    for name, frac in report['too_small'].items():
        assert frac < 0.05 and not (out / name).exists()
    ious, baseline = [], []
    for name, gt in planted.items():
        path = out / name
        pred = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) > 0 if path.exists() else gt & False
        assert pred.shape == gt.shape
        ious.append(mask_scores(pred, gt)[0])
        baseline.append(mask_scores(np.ones_like(gt), gt)[0])
    assert np.mean(ious) > np.mean(baseline) + 0.15, (np.mean(ious), np.mean(baseline))
