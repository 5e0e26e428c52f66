# Copyright (c) mmdense contributors. All rights reserved.
"""Every ViCE config parses, builds its model, states its switches, and the
pipeline makes M = 5 views with mutual region maps from a real photo."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmdense.models.algorithms import ViCE
from mmdense.registry import MODELS
from tests.harness.paths import REPO

VICE_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'vice', 'vice_*.py')))
COCO_TINY = osp.join(osp.dirname(REPO), 'shared', 'data', 'coco_tiny', 'train2017')


def _step(pipeline, type_):
    return next(t for t in pipeline if t['type'] == type_)


def test_all_vice_configs_are_found():
    names = {osp.basename(p) for p in VICE_CONFIGS}
    assert len(names) == 6 and any('official-defaults' in n for n in names)


@pytest.mark.parametrize('path', VICE_CONFIGS, ids=osp.basename)
def test_config_builds_model_and_schedule(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdense'
    assert ViCE.check_config(cfg.model) == []
    end = cfg.param_scheduler[-1]['end']
    assert end == cfg.train_cfg.get('max_epochs', cfg.train_cfg.get('max_iters'))
    pipeline = cfg.train_dataloader.dataset.pipeline
    crop = _step(pipeline, 'MultiViewRandomResizedCrop')['view_groups'][0]
    mask = _step(pipeline, 'RegionMasking')
    assert crop['num_views'] == 5
    if 'official-defaults' in path:
        assert (crop['size'], tuple(crop['size_coefficient']), mask['mode']) == (
            400, (0.5, 1.5), 'rectangle')
    elif 'synthetic' not in path:
        assert (tuple(crop['size_coefficient']), mask['mode']) == ((0.5, 2.0), 'superpixel')
        assert crop['size'] == (320 if 'resnet18' in path else 512)
        assert cfg.optim_wrapper.optimizer.weight_decay == 1e-6
        loss = cfg.model.swav_loss
        assert (loss.queue_length, loss.queue_start_iter, loss.freeze_prototypes_iters) == (
            5000, 313, 313)
        k = cfg.model.prototypes.num_prototypes
        assert k == (27 if 'resnet18-fpn_32xb4-coslr-4e_coco' in path else 128)
    if 'resnet50' in path or 'synthetic' in path:  # building all six is slow; these cover both
        init_default_scope('mmdense')
        model = MODELS.build(cfg.model)
        assert model.num_clusters == cfg.model.prototypes.num_prototypes


@pytest.mark.skipif(not osp.isdir(COCO_TINY), reason='real COCO subset not found')
def test_coco_pipeline_makes_five_views_with_mutual_regions():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'vice',
                                   'vice_resnet50-d8-dlv3plus_32xb4-coslr-4e_coco-512.py'))
    init_default_scope('mmdense')
    pipeline = [dict(t) for t in cfg.train_dataloader.dataset.pipeline]
    _step(pipeline, 'Superpixels').update(cache_dir=None)  # SLIC online
    name = sorted(glob.glob(osp.join(COCO_TINY, '*.jpg')))[0]
    out = Compose(pipeline)(dict(img_path=name))
    assert [tuple(v.shape) for v in out['inputs']] == [(3, 512, 512)] * 5
    regions = out['data_samples'].view_seg_maps['superpixels']
    assert regions.shape == (5, 512, 512)
    ids = [set(r[r >= 0].unique().tolist()) for r in regions]
    assert ids[0] and all(i == ids[0] for i in ids)  # the same mutual regions in every view
    assert ids[0] == set(range(len(ids[0])))
