# Copyright (c) mmdense contributors. All rights reserved.
"""MaskContrast's configs: paper vs released-code switches, models that build,
and the pre-training pipeline on a real image with a mask."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmdense.registry import MODELS, TRANSFORMS
from tests.harness.paths import REPO

FOLDER = osp.join(REPO, 'configs', 'maskcontrast')
PAPER = osp.join(FOLDER, 'maskcontrast_resnet50-d8_1xb64-poly-60e_voc12aug.py')
OFFICIAL = osp.join(FOLDER, 'maskcontrast_resnet50-d8_1xb128-poly-40e_voc12aug_official-defaults.py')
COCO_TINY = osp.join(REPO, '..', 'shared', 'data', 'coco_tiny', 'val2017')


def _rule(cfg):
    return next(t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'MaskAreaRule')


def test_paper_and_official_defaults_differ_as_in_the_spec():
    paper, official = Config.fromfile(PAPER), Config.fromfile(OFFICIAL)
    assert (paper.train_dataloader.batch_size, paper.train_cfg.max_epochs) == (64, 60)
    assert (official.train_dataloader.batch_size, official.train_cfg.max_epochs) == (128, 40)
    assert (paper.model.queue_length, official.model.queue_length) == (128, 256)
    assert not paper.model.saliency_loss.balanced and official.model.saliency_loss.balanced
    assert (_rule(paper).rule, _rule(official).rule) == ('paper', 'official')
    for cfg in (paper, official):
        assert cfg.model.contrast_loss.temperature == 0.5
        assert cfg.model.key_momentum == 0.999 and cfg.model.head.embed_dim == 32
        assert cfg.model.backbone.dilations == (1, 1, 2, 4)  # output stride 8


@pytest.mark.parametrize('path', sorted(glob.glob(osp.join(FOLDER, '*.py'))))
def test_config_builds(path):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'MaskContrast'
    assert not type(model).check_config(cfg.model)
    for t in cfg.train_dataloader.dataset.pipeline:
        TRANSFORMS.build(t)


@pytest.mark.skipif(not osp.isdir(COCO_TINY), reason='../shared/data/coco_tiny is absent')
def test_pipeline_runs_on_a_real_image_with_its_mask(tmp_path):
    cfg = Config.fromfile(OFFICIAL)
    img_path = sorted(glob.glob(osp.join(COCO_TINY, '*.jpg')))[0]
    height, width = cv2.imread(img_path).shape[:2]
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4:3 * height // 4, width // 4:3 * width // 4] = 1
    stem = osp.splitext(osp.basename(img_path))[0]
    cv2.imwrite(str(tmp_path / f'{stem}.png'), mask)
    pipeline = []
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type == 'LoadSaliencyMask':
            t = dict(t, mask_dir=str(tmp_path))
        pipeline.append(TRANSFORMS.build(t))
    results = dict(img_path=img_path)
    for t in pipeline:
        results = t(results)
        assert results is not None, t
    views, sample = results['inputs'], results['data_samples']
    assert len(views) == 2 and views[0].shape == (3, 224, 224)
    masks = sample.view_seg_maps['gt_saliency']
    assert masks.shape == (2, 224, 224)
    fractions = masks.float().mean(dim=(1, 2))
    assert ((fractions > 0.01) & (fractions < 0.99)).all()
