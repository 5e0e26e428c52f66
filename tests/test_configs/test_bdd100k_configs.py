# Copyright (c) mmdense contributors. All rights reserved.
"""SlotCon pre-training on BDD100K (supplementary B.2: 800 epochs, K = 64) and its
Cityscapes transfer config: they load, validate, and state the paper's settings."""
import os.path as osp

import cv2
import numpy as np
import yaml
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdense.registry import DATASETS
from mmdense.utils.config_validation import validate_config

from tests.harness.paths import REPO

NAME = 'slotcon_resnet50-k64_8xb64-coslr-800e_bdd100k'
PRETRAIN = osp.join(REPO, 'configs', 'slotcon', NAME + '.py')
TRANSFER = osp.join(REPO, 'configs', 'benchmarks', 'fcn',
                    'fcn_r50-d16_8xb2-90k_cityscapes-769x769_slotcon-bdd100k.py')


def test_pretraining_config_states_the_supplementary_settings():
    cfg = Config.fromfile(PRETRAIN)
    coco = Config.fromfile(osp.join(REPO, 'configs', 'slotcon',
                                    'slotcon_resnet50_8xb64-coslr-800e_coco.py'))
    assert cfg.model.grouping.num_prototypes == 64
    assert cfg.train_cfg.max_epochs == 800 == cfg.param_scheduler[-1]['end']
    ds = cfg.train_dataloader.dataset
    assert (ds.data_root, ds.img_glob) == ('data/bdd100k/', 'images/100k/train/*.jpg')
    # everything but the data and K is the COCO run
    model, ref = cfg.model.to_dict(), coco.model.to_dict()
    model['grouping'].pop('num_prototypes'), ref['grouping'].pop('num_prototypes')
    assert model == ref
    assert cfg.optim_wrapper == coco.optim_wrapper and cfg.train_dataloader.batch_size == 64
    assert ds.pipeline == coco.train_dataloader.dataset.pipeline
    validate_config(cfg, 'train')


def test_transfer_config_validates():
    cfg = Config.fromfile(TRANSFER)
    assert cfg.model.backbone.init_cfg.checkpoint == f'work_dirs/{NAME}/backbone.pth'
    validate_config(cfg, 'train')


def test_bdd100k_images_are_found(tmp_path):
    cfg = Config.fromfile(PRETRAIN)
    root = tmp_path / 'bdd100k'
    img_dir = root / 'images' / '100k' / 'train'
    img_dir.mkdir(parents=True)
    (root / 'images' / '100k' / 'val').mkdir()
    rng = np.random.default_rng(0)
    for name in ('a.jpg', 'b.jpg'):
        cv2.imwrite(str(img_dir / name), rng.integers(0, 255, (72, 128, 3), dtype=np.uint8))
    cv2.imwrite(str(root / 'images' / '100k' / 'val' / 'c.jpg'),
                rng.integers(0, 255, (72, 128, 3), dtype=np.uint8))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = str(root)
    ds_cfg.pipeline = []
    init_default_scope('mmdense')
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 2  # train images only


def test_metafile_lists_the_bdd_run_with_its_cityscapes_result():
    meta = yaml.safe_load(open(osp.join(REPO, 'configs', 'slotcon', 'metafile.yml')))
    (model, ) = [m for m in meta['Models'] if m['Name'] == NAME]
    assert model['Config'] == f'configs/slotcon/{NAME}.py'
    assert model['Metadata']['Prototypes'] == 64 and model['Metadata']['Epochs'] == 800
    (result, ) = model['Results']
    assert result['Dataset'] == 'Cityscapes' and result['Metrics'] == {'mIoU': 73.9}
