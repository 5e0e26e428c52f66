# Copyright (c) mmdense contributors. All rights reserved.
"""Every shipped config parses, builds its model, and its pipeline runs."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmdense.registry import DATASETS, MODELS
from mmdense.structures import pairwise_overlap_boxes

from tests.harness.paths import REPO

SLOTCON_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'slotcon', '*.py')))
COCO_TINY = osp.join(osp.dirname(REPO), 'shared', 'data', 'coco_tiny')


def test_all_slotcon_configs_are_found():
    names = {osp.basename(p) for p in SLOTCON_CONFIGS}
    assert {'slotcon_resnet50_8xb64-coslr-800e_coco.py', 'slotcon_resnet50_8xb64-coslr-800e_coco-plus.py', 'slotcon_resnet50-k2048_8xb64-coslr-100e_in1k.py', 'slotcon_resnet50-k2048_8xb64-coslr-200e_in1k.py',
            'slotcon_resnet50-k27_8xb64-coslr-800e_coco.py', 'slotcon_resnet18-narrow_1xb32-400iters_synthetic.py'} <= names


@pytest.mark.parametrize('path', SLOTCON_CONFIGS, ids=osp.basename)
def test_config_builds_model_and_schedule(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdense'
    init_default_scope('mmdense')
    model = MODELS.build(cfg.model)
    k = cfg.model.grouping.num_prototypes
    assert model.grouping.prototypes.shape[0] == k == model.group_loss.center.shape[1]
    # the schedule ends where training ends
    end = cfg.param_scheduler[-1]['end']
    total = cfg.train_cfg.get('max_epochs', cfg.train_cfg.get('max_iters'))
    assert end == total
    if 'r50' in path:
        assert cfg.sync_bn == 'torch'
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1.0 * 512 / 256)
        assert cfg.train_dataloader.batch_size * 8 == 512
        assert k == (2048 if 'in1k' in path else 27 if 'k27' in path else 256)


@pytest.mark.parametrize('name', ['slotcon_resnet50_8xb64-coslr-800e_coco.py', 'slotcon_resnet50-k2048_8xb64-coslr-100e_in1k.py'])
def test_pretraining_pipeline_runs_on_an_image(name, tmp_path):
    import cv2
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'slotcon', name))
    init_default_scope('mmdense')
    img = np.random.default_rng(0).integers(0, 256, (180, 240, 3), dtype=np.uint8)
    path = str(tmp_path / 'a.jpg')
    cv2.imwrite(path, img)
    pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
    out = pipeline(dict(img_path=path))
    assert [tuple(v.shape) for v in out['inputs']] == [(3, 224, 224), (3, 224, 224)]
    assert out['data_samples'].view_crops.shape == (2, 4)
    assert out['data_samples'].view_flips.shape == (2, )


@pytest.mark.skipif(not osp.isdir(COCO_TINY), reason=f'real COCO subset not found at {COCO_TINY}')
def test_coco_config_on_real_coco_images():
    """The COCO pre-training dataset + pipeline on real JPEGs of varied sizes."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'slotcon', 'slotcon_resnet50_8xb64-coslr-800e_coco.py'))
    init_default_scope('mmdense')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = COCO_TINY
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 80
    for i in (0, 41):
        item = dataset[i]
        assert [tuple(v.shape) for v in item['inputs']] == [(3, 224, 224), (3, 224, 224)]
        assert item['inputs'][0].dtype == torch.uint8
        ds = item['data_samples']
        boxes = np.stack(pairwise_overlap_boxes(ds.view_crops, ds.view_flips, 0, 1))
        assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])


@pytest.mark.parametrize('old,new', [
    ('r50_coco_800e.py', 'slotcon_resnet50_8xb64-coslr-800e_coco.py'),
    ('r50_cocoplus_800e.py', 'slotcon_resnet50_8xb64-coslr-800e_coco-plus.py'),
    ('r50_coco-k27_800e.py', 'slotcon_resnet50-k27_8xb64-coslr-800e_coco.py'),
    ('r50_in1k_100e.py', 'slotcon_resnet50-k2048_8xb64-coslr-100e_in1k.py'),
    ('r50_in1k_200e.py', 'slotcon_resnet50-k2048_8xb64-coslr-200e_in1k.py'),
    ('r18_synthetic_demo.py', 'slotcon_resnet18-narrow_1xb32-400iters_synthetic.py'),
])
def test_former_config_names_still_work(old, new):
    """``tools/dist_train.sh configs/slotcon/r50_coco_800e.py 8`` keeps working:
    each former name is the same config as its new name."""
    folder = osp.join(REPO, 'configs', 'slotcon')
    a, b = Config.fromfile(osp.join(folder, old)), Config.fromfile(osp.join(folder, new))
    assert a.to_dict() == b.to_dict()


def test_dataset_bases_do_not_carry_a_method_pipeline():
    """Dataset bases list images only; the method config chooses the pipeline."""
    for name in ('unlabeled_images.py', 'coco_unlabeled.py', 'cocoplus_unlabeled.py',
                 'imagenet_unlabeled.py', 'synthetic_scenes.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', name))
        assert cfg.train_dataloader.dataset.pipeline == [], name
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'slotcon',
                                   'slotcon_resnet50_8xb64-coslr-800e_coco-plus.py'))
    assert cfg.train_dataloader.dataset.img_glob == ['train2017/*.jpg', 'unlabeled2017/*.jpg']
    assert cfg.train_dataloader.dataset.pipeline[1].type == 'MultiViewRandomResizedCrop'


def test_k_is_written_once_per_config():
    """K lives in model.grouping only; the loss takes it from there."""
    for path in glob.glob(osp.join(REPO, 'configs', 'slotcon', 'slotcon_*.py')):
        cfg = Config.fromfile(path)
        assert 'num_prototypes' not in cfg.model.group_loss, path
        assert 'num_prototypes' in cfg.model.grouping, path
