# Copyright (c) mmdense contributors. All rights reserved.
"""Each benchmark config, on tiny data: mmengine's Runner builds it, loads the
exported backbone, trains two iterations and evaluates (pycocotools CocoMetric
for Mask R-CNN, IoUMetric for segmentation).

Only sizes change (image scales and crops to 64 px, batch 1-2, no workers,
2 iterations; for Mask R-CNN fewer RoIs per image) and, for Mask R-CNN, the
test score threshold (0 instead of 0.05: after two iterations every class
score is about 1/81 and COCO evaluation would have no detection to score). SyncBN is left in: the Runner
reverts it to BN when not distributed, which is checked.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from . import tiny_data
from .conftest import REPO, load_tool
from .test_benchmark_configs import BENCH, CONFIGS, SEMI, load, name

SIZE = 64
DET_1X = 'mask_rcnn/mask-rcnn_r50_fpn_syncbn-4conv1fc_1x_coco.py'
# Every config but four: the 1-12.5 % semi-supervised configs, which differ from
# the 100 % one only in their list files (test_semi_supervised_configs,
# test_configs_of_a_family_share_their_model, test_make_semi_splits)
# and cannot run on tiny data (a 1 % split of a handful of images leaves one of its two
# mask folders without images).
E2E = sorted(name(p) for p in CONFIGS if not (p in SEMI and not p.endswith('-100pct.py')))


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('tiny_data'))
    tiny_data.make_coco(root)
    voc = tiny_data.make_voc(root)
    tiny_data.make_cityscapes(root)
    tiny_data.make_ade20k(root)
    tiny_data.make_coco_stuff27(root)
    splits = load_tool('dataset_converters/make_semi_splits.py')
    seg = osp.join(voc, 'ImageSets', 'Segmentation')
    assert splits.main(['--ann-file', osp.join(seg, 'trainaug.txt'), '--fractions', '0.5', '1.0',
                        '--partition', osp.join(seg, 'train.txt'), '--seed', '0',
                        '--out-dir', osp.join(seg, 'semi')]) == 0
    return root


def shrink(node, size: int = SIZE):
    """Image scales and crops of every transform / preprocessor in ``node`` to ``size``."""
    if isinstance(node, (list, tuple)):
        for item in node:
            shrink(item, size)
        return
    if not isinstance(node, dict):
        return
    kind = node.get('type')
    if kind in ('Resize', 'RandomResize') and 'scale' in node:
        node['scale'] = (2 * size, size)
    elif kind == 'RandomChoiceResize':
        node['scales'] = [(2 * size, size - 16), (2 * size, size)]
    elif kind == 'RandomCrop':
        node['crop_size'] = (size, size)
    elif kind == 'SegDataPreProcessor' and node.get('size') is not None:
        node['size'] = (size, size)
    elif kind is None and node.get('mode') == 'slide':  # mmseg sliding-window inference
        # windows overlapping as 769 / 513 do: 2 x 3 windows on a 96 x 128 image
        node['crop_size'] = (size, size)
        node['stride'] = (size * 2 // 3, size * 2 // 3)
    for value in node.values():
        shrink(value, size)


def prefix_data_roots(node, root: str):
    if isinstance(node, (list, tuple)):
        for item in node:
            prefix_data_roots(item, root)
    elif isinstance(node, dict):
        if isinstance(node.get('data_root'), str):
            node['data_root'] = osp.join(root, node['data_root'])
        for value in node.values():
            prefix_data_roots(value, root)


def tiny_config(path: str, checkpoint: str, data_root: str, work_dir: str) -> Config:
    cfg = load(path, **{'model.backbone.init_cfg.checkpoint': checkpoint})  # the documented override
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        # batch 2 where BN needs it (DeepLab-v3's image pooling), 1 for Mask R-CNN
        train_batch = 1 if cfg.default_scope == 'mmdet' else 2
        loader.update(batch_size=train_batch if key == 'train_dataloader' else 1, num_workers=0,
                      persistent_workers=False)
        prefix_data_roots(loader, data_root)
        shrink(loader.dataset)
    shrink(cfg.model)
    if cfg.default_scope == 'mmdet':
        cfg.val_evaluator.ann_file = osp.join(data_root, cfg.val_evaluator.ann_file)
        cfg.test_evaluator = cfg.val_evaluator
        cfg.model.test_cfg.rcnn.score_thr = 0.0
        # fewer RoIs per image than on COCO (512 sampled, 1000 proposals, 100 detections):
        # the 4conv1fc box head and the 4-conv mask head dominate a CPU step otherwise
        cfg.model.train_cfg.rpn_proposal.max_per_img = 64
        cfg.model.train_cfg.rcnn.sampler.num = 32
        cfg.model.test_cfg.rpn.max_per_img = 32
        cfg.model.test_cfg.rcnn.max_per_img = 16
        # precise BN before the evaluation, as configured, on 2 training batches
        (precise_bn, ) = [h for h in cfg.custom_hooks if h.type == 'mmdense.PreciseBNHook']
        precise_bn.update(num_iters=2, interval=2)
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=0)
    return cfg


class PreciseBNProbe(Hook):
    """Records whether the BN statistics changed between the last training
    iteration and the evaluation (what precise BN does)."""

    priority = 'HIGHEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == runner.max_iters:
            self.before = {k: v.clone() for k, v in Probe._model(runner).state_dict().items()
                           if k.endswith('running_mean')}

    def before_val(self, runner):
        state = Probe._model(runner).state_dict()
        self.changed = [k for k, v in self.before.items() if not torch.equal(state[k], v)]


class Probe(Hook):
    """Records the backbone as training starts (after init_weights) and ends,
    and the validation metrics."""

    def __init__(self, expected):
        self.expected = expected
        self.metrics = None

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _matches(self, runner):
        state = self._model(runner).backbone.state_dict()
        return {k: torch.equal(state[k], v) for k, v in self.expected.items()}

    def before_train(self, runner):
        self.start = self._matches(runner)
        self.sync_bn = [type(m).__name__ for m in self._model(runner).modules()
                        if isinstance(m, torch.nn.SyncBatchNorm)]
        self.head_start = {k: v.clone() for k, v in
                           self._model(runner).decode_head.state_dict().items()} \
            if hasattr(self._model(runner), 'decode_head') else None

    def after_train(self, runner):
        self.end = self._matches(runner)
        if self.head_start is not None:
            head = self._model(runner).decode_head.state_dict()
            self.head_changed = any(not torch.equal(head[k], v) for k, v in self.head_start.items()
                                    if v.is_floating_point())

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = dict(metrics or {})


@pytest.fixture
def quick_config_dump(monkeypatch):
    """The Runner logs and dumps its config through yapf (``Config.pretty_text``),
    2-5 s per run here; the unformatted text does for these tests."""
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: self.text))


@pytest.mark.slow
@pytest.mark.parametrize('rel', E2E)
def test_config_trains_and_evaluates_with_the_exported_backbone(rel, data_dir, r50_checkpoint, tmp_path,
                                                                quick_config_dump):
    cfg = tiny_config(osp.join(BENCH, rel), r50_checkpoint['backbone'], data_dir, str(tmp_path))
    runner = Runner.from_cfg(cfg)
    probe = Probe(r50_checkpoint['expected'])
    runner.register_hook(probe, priority='VERY_HIGH')
    precise_bn = PreciseBNProbe() if rel.startswith('mask_rcnn/') else None
    if precise_bn is not None:
        runner.register_hook(precise_bn)
    runner.train()

    if precise_bn is not None:  # the hook (ABOVE_NORMAL) ran after the probe (HIGHEST)
        assert len(precise_bn.changed) > 50, precise_bn.changed  # backbone, FPN and heads
    # the backbone the first iteration saw was the exported one, tensor for tensor
    assert all(probe.start.values()), [k for k, ok in probe.start.items() if not ok][:5]
    assert probe.sync_bn == []  # reverted to BN by the Runner (not distributed)
    if rel.startswith('linear_seg/'):
        assert all(probe.end.values())  # frozen: weights and BN statistics untouched
        assert probe.head_changed
    else:
        assert not all(probe.end.values())  # fine-tuned end to end
    assert probe.metrics is not None
    if rel.startswith('mask_rcnn/'):
        for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
            assert 0.0 <= probe.metrics[key] <= 1.0, probe.metrics
    else:
        assert 0.0 <= probe.metrics['mIoU'] <= 100.0, probe.metrics


COCO_TINY = osp.join(osp.dirname(REPO), 'shared', 'data', 'coco_tiny')  # outside the repo


@pytest.mark.slow
@pytest.mark.skipif(not osp.isdir(COCO_TINY), reason=f'real COCO subset not found at {COCO_TINY}')
def test_mask_rcnn_on_real_coco_images(r50_checkpoint, tmp_path, quick_config_dump):
    """The Mask R-CNN config on real COCO photographs and annotations (80 categories,
    polygon masks, varied image sizes): 2 iterations on 4 train images, then COCO
    evaluation of 4 val images against the whole val json."""
    root = osp.abspath(COCO_TINY)
    cfg = tiny_config(osp.join(BENCH, DET_1X), r50_checkpoint['backbone'], '/', str(tmp_path))
    for key, split in (('train_dataloader', 'train2017'), ('val_dataloader', 'val2017')):
        cfg[key].dataset.update(data_root=root, ann_file=f'annotations/instances_{split}.json',
                                data_prefix=dict(img=f'{split}/'), indices=4)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = osp.join(root, 'annotations', 'instances_val2017.json')
    cfg.test_evaluator = cfg.val_evaluator
    runner = Runner.from_cfg(cfg)
    probe = Probe(r50_checkpoint['expected'])
    runner.register_hook(probe, priority='VERY_HIGH')
    runner.train()
    assert all(probe.start.values())
    assert 0.0 <= probe.metrics['coco/bbox_mAP'] <= 1.0 and 0.0 <= probe.metrics['coco/segm_mAP'] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize('rel', ['fcn/fcn_r50-d16_8xb2-90k_cityscapes-769x769_official.py'])
def test_test_tool_show_dir_writes_pngs(rel, data_dir, r50_checkpoint, tmp_path, monkeypatch):
    """`tools/test.py CONFIG CKPT --show-dir DIR` draws every test image
    (the config's SegVisualizationHook, switched on by the flag)."""
    from mmseg.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = tiny_config(osp.join(BENCH, rel), r50_checkpoint['backbone'], data_dir, str(tmp_path))
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    config = str(tmp_path / 'tiny_config.py')
    cfg.dump(config)  # the formatted text (before quick_config_dump's shortcut)
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: self.text))
    show_dir = str(tmp_path / 'show')
    metrics = load_tool('test.py').main([config, ckpt, '--show-dir', show_dir,
                                         '--work-dir', str(tmp_path / 'work')])
    assert 0.0 <= metrics['mIoU'] <= 100.0
    pngs = glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True)
    assert len(pngs) == 1, pngs  # the one Cityscapes val image
