# Copyright (c) mmdense contributors. All rights reserved.
"""configs/benchmarks: every config parses and states its protocol, and every
model built from one holds the exported backbone exactly after init_weights
(the classic silent failure is a randomly initialised backbone)."""
import copy
import functools
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from .conftest import REPO, TEACHER
from tests.harness.logs import LogCapture

BENCH = osp.join(REPO, 'configs', 'benchmarks')
# the ResNet-50 transfer configs of an exported backbone (ViT-S/16 probes:
# tests/test_configs/test_croc_configs.py; the MaskContrast decoder probe and the
# fine-tuning from a whole MaskContrast network: test_maskcontrast_transfer.py)
CONFIGS = sorted(p for p in glob.glob(osp.join(BENCH, '**', '*.py'), recursive=True)
                 if '_base_' not in p and '/linear_seg_vit/' not in p
                 and 'linear-decoder_' not in p and 'maskcontrast-init' not in p)
DET = [p for p in CONFIGS if '/mask_rcnn/' in p]
FCN = [p for p in CONFIGS if '/fcn/' in p]
LINEAR = [p for p in CONFIGS if '/linear_seg/' in p and osp.basename(p).startswith('linear_')]
# ViCE-style probes: the classifier on features upsampled to the input resolution
FULLRES = [p for p in CONFIGS if '/linear_seg/' in p and osp.basename(p).startswith('linear-fullres_')]
SEMI = [p for p in CONFIGS if '/semi_voc/' in p]
OFFICIAL = [p for p in CONFIGS if p.endswith('_official.py')]
STRICT = 'mmdense.StrictPretrained'
COCO27_TYPE = 'mmdense.datasets.coco_stuff27.CocoStuff27Dataset'
FRACTIONS = ('1pct', '2pct', '5pct', '12.5pct', '100pct')


def name(path):
    return osp.relpath(path, BENCH)


@functools.lru_cache(maxsize=None)
def _parse(path: str) -> Config:
    return Config.fromfile(path)  # about a second each (mmdet:: / mmseg:: bases)


def load(path, **options) -> Config:
    """A fresh copy of the parsed config, with ``options`` merged."""
    cfg = copy.deepcopy(_parse(path))
    if options:
        cfg.merge_from_dict(options)
    return cfg


def test_the_required_configs_exist():
    names = {name(p) for p in CONFIGS}
    assert {'mask_rcnn/mask-rcnn_r50_fpn_syncbn-4conv1fc_1x_coco.py',
            'mask_rcnn/mask-rcnn_r50_fpn_syncbn-4conv1fc_2x_coco.py',
            'fcn/fcn_r50-d16_8xb2-30k_voc12aug-513x513.py',
            'fcn/fcn_r50-d16_8xb2-90k_cityscapes-769x769.py',
            'fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py'} <= names
    assert len(LINEAR) == 5 and {'voc12aug', 'coco-things', 'coco-stuff27', 'ade20k', 'cityscapes'} \
        == {osp.basename(p).split('_')[-1].rsplit('-', 1)[0] for p in LINEAR}
    assert sorted(osp.basename(p).rsplit('-', 1)[1][:-3] for p in SEMI) == sorted(FRACTIONS)


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_pretrained_is_one_overridable_variable(path):
    cfg = load(path)
    backbone = cfg.model.backbone
    assert cfg.pretrained.endswith('backbone.pth')
    # a wrong file or prefix is an error, never a silently random backbone
    assert backbone.init_cfg == dict(type=STRICT, checkpoint=cfg.pretrained)
    assert 'mmdense.models.utils.strict_pretrained' in cfg.custom_imports.imports
    # plain ResNet with the torchvision stem, never mmseg's deep-stem ResNetV1c
    assert backbone.type == 'ResNet' and not backbone.get('deep_stem', False)
    assert backbone.depth == 50 and backbone.get('style', 'pytorch') == 'pytorch'
    assert cfg.model.get('pretrained') is None
    assert cfg.default_scope == ('mmdet' if path in DET else 'mmseg')
    assert 'mmdense' in cfg.custom_imports.imports
    cfg = load(path, **{'model.backbone.init_cfg.checkpoint': '/x/y.pth'})
    assert cfg.model.backbone.init_cfg.checkpoint == '/x/y.pth'


@pytest.mark.parametrize('path', DET, ids=name)
def test_mask_rcnn_protocol(path):
    cfg = load(path)
    model = cfg.model
    sync = dict(type='SyncBN', requires_grad=True)
    assert model.backbone.norm_cfg == sync and model.backbone.norm_eval is False
    assert model.backbone.frozen_stages == -1
    assert model.neck.norm_cfg == sync
    assert model.roi_head.bbox_head.type == 'Shared4Conv1FCBBoxHead'
    assert model.roi_head.bbox_head.norm_cfg == sync
    assert model.roi_head.bbox_head.conv_out_channels == 256
    assert model.roi_head.mask_head.norm_cfg == sync
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.optim_wrapper.optimizer.weight_decay == 1e-4
    warmup, steps = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 1000 and not warmup.by_epoch
    two_x = '_2x_' in path
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == (180000 if two_x else 90000) == steps.end
    assert steps.milestones == ([120000, 160000] if two_x else [60000, 80000])
    resize = [t for t in cfg.train_dataloader.dataset.pipeline if 'Resize' in t.type]
    assert [s[1] for s in resize[0].scales] == list(range(640, 801, 32))
    test_resize = [t for t in cfg.val_dataloader.dataset.pipeline if t.type == 'Resize']
    assert test_resize[0].scale == (1333, 800)
    # detectron2: no weight decay on norm layers (SOLVER.WEIGHT_DECAY_NORM 0), precise BN
    # over 200 training batches before each evaluation (TEST.PRECISE_BN)
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.)
    (hook, ) = [h for h in cfg.custom_hooks if 'PreciseBNHook' in h.type]
    assert hook.type == 'mmdense.PreciseBNHook' and hook.num_iters == 200
    assert hook.interval == cfg.train_cfg.val_interval
    assert 'mmdense.engine.hooks.precise_bn_hook' in cfg.custom_imports.imports


def test_mask_rcnn_norm_layers_get_no_weight_decay():
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from torch.nn.modules.batchnorm import _BatchNorm
    cfg = load(DET[0])
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups for p in g['params']}
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert len(norms) > 50  # SyncBN in backbone, FPN and heads
    for m in norms:
        assert decay[id(m.weight)] == 0. and decay[id(m.bias)] == 0.
    conv = model.backbone.conv1.weight
    assert decay[id(conv)] == 1e-4
    assert decay[id(model.roi_head.bbox_head.fc_cls.bias)] == 1e-4  # biases keep the decay


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_metrics_logged_at_the_iteration_and_visualization_hook(path):
    """Iteration-based configs log validation metrics at the iteration, and
    `tools/test.py --show-dir` finds a visualization hook and visualizer."""
    cfg = load(path)
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.log_processor.by_epoch is False
    assert cfg.default_hooks.logger.log_metric_by_epoch is False
    kind = 'Det' if path in DET else 'Seg'
    assert cfg.default_hooks.visualization.type == f'{kind}VisualizationHook'
    assert cfg.visualizer.type == f'{kind}LocalVisualizer'


@pytest.mark.parametrize('path', FCN, ids=name)
def test_fcn_protocol(path):
    cfg = load(path)
    model = cfg.model
    opt = cfg.optim_wrapper.optimizer
    if 'ade20k' in path:  # mmseg's standard 80k FCN, output stride 8
        assert cfg.train_cfg.max_iters == 80000 and opt.lr == 0.01 and opt.weight_decay == 5e-4
        assert cfg.param_scheduler[0].type == 'PolyLR' and cfg.param_scheduler[0].power == 0.9
        assert cfg.param_scheduler[0].eta_min == 1e-4
        assert cfg.train_dataloader.batch_size * 4 == 16
        assert model.backbone.strides == (1, 2, 1, 1)
        assert cfg.crop_size == (512, 512)
        return
    voc = 'voc12aug' in path
    official = path in OFFICIAL
    assert model.backbone.strides == (1, 2, 2, 1) and model.backbone.dilations == (1, 1, 1, 2)
    assert model.backbone.contract_dilation is official
    head = model.decode_head
    assert (head.type, head.num_convs, head.channels, head.kernel_size, head.dilation) == \
        ('FCNHead', 2, 256, 3, 6)
    assert head.concat_input is False and model.auxiliary_head is None
    assert head.loss_decode.avg_non_ignore is not official
    assert head.align_corners is official
    assert head.num_classes == (21 if voc else 19)
    assert model.backbone.norm_cfg.type == head.norm_cfg.type == 'SyncBN'
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert opt.lr == (0.003 if voc else 0.01) and opt.weight_decay == 1e-4
    total = 30000 if voc else 90000
    assert cfg.train_cfg.max_iters == total
    (steps, ) = cfg.param_scheduler
    assert steps.milestones == [int(0.7 * total), int(0.9 * total)] and steps.gamma == 0.1
    crop = (513, 513) if voc else (769, 769)
    assert cfg.model.data_preprocessor.size == crop
    if not official:
        assert not [t for t in cfg.val_dataloader.dataset.pipeline if 'Resize' in t.type]


@pytest.mark.parametrize('path', OFFICIAL, ids=name)
def test_official_run_variants(path):
    """The *_official configs: the settings of the official SlotCon mmseg 0.x runs
    (docs/benchmarks/transfer.md), everything else the current config's."""
    cfg = load(path)
    current = load(path.replace('_official.py', '.py'))
    model, head = cfg.model, cfg.model.decode_head
    assert head.align_corners is True
    assert head.loss_decode.avg_non_ignore is False  # the mean over all pixels
    assert model.backbone.contract_dilation is True
    if 'cityscapes' in path:
        assert model.test_cfg == dict(mode='slide', crop_size=(769, 769), stride=(513, 513))
        scale = (2049, 1025)
    else:
        assert model.test_cfg.mode == 'whole'
        scale = (2049, 513)  # short side 513
    datasets = cfg.train_dataloader.dataset.get('datasets', [cfg.train_dataloader.dataset])
    for dataset in datasets:
        (resize, ) = [t for t in dataset.pipeline if t.type == 'RandomResize']
        assert resize.scale == scale and resize.ratio_range == (0.5, 2.0) and resize.keep_ratio
    types = [t.type for t in cfg.val_dataloader.dataset.pipeline]
    assert types == ['LoadImageFromFile', 'Resize', 'LoadAnnotations', 'PackSegInputs']
    (test_resize, ) = [t for t in cfg.val_dataloader.dataset.pipeline if t.type == 'Resize']
    assert test_resize.scale == scale and test_resize.keep_ratio
    # nothing else differs: model (but the listed keys), data sources, schedule, optimiser
    for m in (model, current.model):
        m.decode_head.pop('align_corners')
        m.decode_head.loss_decode.pop('avg_non_ignore')
        m.backbone.pop('contract_dilation')
        m.pop('test_cfg')
    assert model == current.model
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'default_hooks'):
        assert cfg[key] == current[key], key
    assert cfg.train_dataloader.batch_size == current.train_dataloader.batch_size
    strip = ('pipeline', )
    a = [{k: v for k, v in d.items() if k not in strip} for d in datasets]
    b = [{k: v for k, v in d.items() if k not in strip}
         for d in current.train_dataloader.dataset.get('datasets', [current.train_dataloader.dataset])]
    assert a == b


@pytest.mark.parametrize('path', LINEAR, ids=name)
def test_linear_probe_protocol(path):
    cfg = load(path)
    backbone, head = cfg.model.backbone, cfg.model.decode_head
    assert backbone.frozen_stages == 4 and backbone.norm_eval is True
    assert (head.type, head.num_convs, head.concat_input, head.dropout_ratio) == ('FCNHead', 0, False, 0)
    assert cfg.model.auxiliary_head is None and head.loss_decode.avg_non_ignore is True
    assert head.num_classes == {'voc12aug': 21, 'coco-things': 12, 'coco-stuff27': 27,
                                'ade20k': 150, 'cityscapes': 19}[path.split('_')[-1].rsplit('-', 1)[0]]
    assert cfg.optim_wrapper.optimizer.lr == 0.1 and cfg.optim_wrapper.optimizer.weight_decay == 1e-4
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.param_scheduler[0].milestones == [cfg.train_cfg.max_iters * 2 // 3]


@pytest.mark.parametrize('path', LINEAR[:1], ids=name)
def test_linear_probe_is_one_1x1_conv_on_a_frozen_backbone(path):
    from mmseg.registry import MODELS
    cfg = load(path)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.train()
    trainable = {k: p.shape for k, p in model.named_parameters() if p.requires_grad}
    classes = cfg.model.decode_head.num_classes
    assert trainable == {'decode_head.conv_seg.weight': (classes, 2048, 1, 1),
                         'decode_head.conv_seg.bias': (classes, )}
    convs = [m for m in model.decode_head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1 and convs[0].kernel_size == (1, 1)
    assert not any(m.training for m in model.backbone.modules()
                   if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))


def test_coco_things_is_the_thing_subset_of_coco_stuff27():
    cfg = load(next(p for p in LINEAR if 'coco-things' in p))
    assert cfg.train_dataloader.dataset.type == COCO27_TYPE
    assert cfg.train_dataloader.dataset.metainfo.classes == cfg.thing_classes
    coco27 = pytest.importorskip('mmdense.datasets.coco_stuff27')
    assert tuple(cfg.thing_classes) == tuple(coco27.COARSE_CLASSES[:12])
    label_map = coco27.CocoStuff27Dataset.get_label_map(cfg.thing_classes)
    assert label_map == {i: (i if i < 12 else 255) for i in range(27)}


@pytest.mark.parametrize('path', [p for p in LINEAR if 'coco-' in p], ids=name)
def test_coco_stuff27_dataset_type_resolves_from_the_mmseg_scope(path):
    cfg = load(path)
    assert cfg.train_dataloader.dataset.type == cfg.val_dataloader.dataset.type == COCO27_TYPE
    pytest.importorskip('mmdense.datasets.coco_stuff27')
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    assert DATASETS.get(COCO27_TYPE).__name__ == 'CocoStuff27Dataset'


@pytest.mark.parametrize('path', SEMI, ids=name)
def test_semi_supervised_configs(path):
    cfg = load(path)
    tag = osp.basename(path).rsplit('-', 1)[1][:-3]
    train, rest = cfg.train_dataloader.dataset.datasets
    assert train.ann_file == f'ImageSets/Segmentation/semi/{tag}_seed0_train.txt'
    assert rest.ann_file == f'ImageSets/Segmentation/semi/{tag}_seed0_rest.txt'
    assert train.data_prefix.seg_map_path == 'SegmentationClass'
    assert rest.data_prefix.seg_map_path == 'SegmentationClassAug'
    assert cfg.model.decode_head.type == 'ASPPHead' and cfg.model.auxiliary_head is None
    assert cfg.model.decode_head.loss_decode.avg_non_ignore is True
    assert cfg.model.backbone.frozen_stages == -1
    assert cfg.optim_wrapper.optimizer.lr == 0.004 and cfg.train_dataloader.batch_size * 4 == 8
    assert cfg.param_scheduler[0].type == 'PolyLR'


# ------------------------------------------------------------ loading the backbone
def build_with_backbone(path: str, checkpoint: str, prefix=None):
    """The config's model with ``checkpoint`` as its backbone init, initialised."""
    cfg = load(path, **{'model.backbone.init_cfg.checkpoint': checkpoint})
    if prefix is not None:
        cfg.model.backbone.init_cfg.prefix = prefix
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    model = MODELS.build(cfg.model)
    with LogCapture() as log:
        model.init_weights()
    return model, log


def assert_backbone_equals(model, expected):
    state = model.backbone.state_dict()
    assert set(state) == set(expected)  # no missing, no unexpected tensor
    different = [k for k, v in expected.items() if not torch.equal(state[k], v)]
    assert not different, f'{len(different)} tensors not loaded, e.g. {different[:3]}'


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_exported_backbone_is_loaded_exactly(path, r50_checkpoint):
    model, log = build_with_backbone(path, r50_checkpoint['backbone'])
    assert not log.mismatches(), log.mismatches()
    assert any('load model from' in m and r50_checkpoint['backbone'] in m for m in log.messages)
    assert_backbone_equals(model, r50_checkpoint['expected'])


@pytest.mark.parametrize('path', DET[1:] + LINEAR[1:] + SEMI[1:], ids=name)
def test_configs_of_a_family_share_their_model(path):
    """Mask R-CNN 1x / 2x, the linear probes and the semi-supervised fractions
    differ in schedule, data and number of classes only."""
    family = next(group for group in (DET, LINEAR, SEMI) if path in group)
    model, ref = load(path).model, load(family[0]).model
    for m in (model, ref):
        if 'decode_head' in m:
            m.decode_head.pop('num_classes')
    assert model == ref


@pytest.mark.parametrize('path', [DET[0], FCN[0]], ids=name)
def test_full_checkpoint_with_prefix_is_loaded_exactly(path, r50_checkpoint):
    model, log = build_with_backbone(path, r50_checkpoint['full'], prefix=TEACHER)
    assert not log.mismatches(), log.mismatches()
    assert_backbone_equals(model, r50_checkpoint['expected'])


@pytest.mark.parametrize('path', [DET[0], FCN[0], LINEAR[0]], ids=name)
def test_wrong_prefix_is_an_error_naming_the_prefixes(path, r50_checkpoint):
    """mmengine's Pretrained would log and leave the backbone random."""
    from mmdense.models.utils.strict_pretrained import StrictPretrainedError
    full = r50_checkpoint['full']
    with pytest.raises(StrictPretrainedError) as err:  # the full checkpoint, prefix forgotten
        build_with_backbone(path, full)
    message = str(err.value)
    assert full in message and '(no prefix)' in message
    assert f"'{TEACHER}' (" in message and 'grouping., teacher.' in message
    with pytest.raises(StrictPretrainedError, match=r"'backbone\.'"):
        build_with_backbone(path, full, prefix='backbone.')


def test_backbone_missing_a_stage_is_an_error(r50_checkpoint, tmp_path):
    from mmdense.models.utils.strict_pretrained import StrictPretrainedError
    state = torch.load(r50_checkpoint['backbone'], map_location='cpu')['state_dict']
    path = str(tmp_path / 'no_layer4.pth')
    torch.save({'state_dict': {k: v for k, v in state.items() if not k.startswith('layer4.')}},
               path)
    with pytest.raises(StrictPretrainedError, match=r'missing[^\n]*layer4\.0\.conv1\.weight'):
        build_with_backbone(FCN[0], path)


def test_missing_pretrained_file_is_an_error():
    with pytest.raises(FileNotFoundError):
        build_with_backbone(FCN[0], '/nonexistent/backbone.pth')


@pytest.mark.parametrize('dataset', ['ade20k', 'cityscapes'])
def test_linear_probe_datasets_are_the_fcn_ones(dataset):
    probe = load(next(p for p in LINEAR if dataset in p))
    fcn = load(next(p for p in FCN if dataset in p))
    for key in ('train_dataloader', 'val_dataloader'):
        a, b = probe[key].dataset, fcn[key].dataset
        assert (a.type, a.data_root, a.data_prefix) == (b.type, b.data_root, b.data_prefix)


# ------------------------------------------------------------ protocols of issue item 8
FULLRES_HEAD = 'mmdense.UpsampledLinearHead'


def test_the_fullres_probe_exists():
    assert [name(p) for p in FULLRES] == [
        'linear_seg/linear-fullres_r50-d16_8xb2-40k_coco-stuff27-448x448.py']


@pytest.mark.parametrize('path', FULLRES, ids=name)
def test_fullres_probe_is_the_linear_probe_with_an_upsampling_head(path):
    """Same frozen backbone, data and schedule as the mmseg-style probe of the
    same dataset; only the head differs (features upsampled, then one 1x1 conv)."""
    cfg = load(path)
    dataset = osp.basename(path).split('_')[-1].rsplit('-', 1)[0]
    ref = load(next(p for p in LINEAR if osp.basename(p).split('_')[-1].rsplit('-', 1)[0] == dataset))
    head, ref_head = cfg.model.decode_head, ref.model.decode_head
    assert head.type == FULLRES_HEAD and 'num_convs' not in head
    assert head.in_channels == head.channels == 2048 and head.normalize is False
    assert head.num_classes == ref_head.num_classes == 27
    assert head.loss_decode == ref_head.loss_decode and head.dropout_ratio == 0.0
    model, ref_model = cfg.model.to_dict(), ref.model.to_dict()
    model.pop('decode_head'), ref_model.pop('decode_head')
    assert model == ref_model
    for key in ('train_dataloader', 'val_dataloader', 'optim_wrapper', 'param_scheduler',
                'train_cfg'):
        assert cfg[key] == ref[key], key


@pytest.mark.parametrize('path', FULLRES, ids=name)
def test_fullres_probe_trains_one_1x1_conv(path):
    from mmseg.registry import MODELS
    cfg = load(path)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.train()
    trainable = {k: p.shape for k, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'decode_head.conv_seg.weight': (27, 2048, 1, 1),
                         'decode_head.conv_seg.bias': (27, )}
    assert type(model.decode_head).__name__ == 'UpsampledLinearHead'


BDD_FCN = 'fcn/fcn_r50-d16_8xb2-90k_cityscapes-769x769_slotcon-bdd100k.py'


def test_bdd100k_transfer_is_the_cityscapes_fcn_with_the_bdd_backbone():
    """SlotCon supplementary B.2: the BDD100K model on the Cityscapes FCN protocol."""
    cfg = load(osp.join(BENCH, BDD_FCN))
    ref = load(osp.join(BENCH, 'fcn/fcn_r50-d16_8xb2-90k_cityscapes-769x769.py'))
    assert cfg.pretrained == \
        'work_dirs/slotcon_resnet50-k64_8xb64-coslr-800e_bdd100k/backbone.pth'
    assert cfg.model.backbone.init_cfg.checkpoint == cfg.pretrained
    cfg.model.backbone.init_cfg.checkpoint = ref.pretrained
    for key in ('model', 'train_dataloader', 'val_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg'):
        assert cfg[key] == ref[key], key
    assert osp.isfile(osp.join(REPO, 'configs', 'slotcon',
                               'slotcon_resnet50-k64_8xb64-coslr-800e_bdd100k.py'))


# CrOC's linear-segmentation "transfer" tables (croc.txt section 4.2, Tables 1 and 2): a
# model pre-trained on COCO / COCO+ / ImageNet, a linear layer trained AND evaluated on
# each target dataset. There is no cross-dataset (COCO -> PASCAL) probe in the paper;
# Table 2 is the ADE20K column. Each column is one of the existing probes. (CC-St.: the
# 27-class COCO-Stuff-27 probe; Leopart's code, which defines the same three tasks, scores
# COCO-Stuff on its 15 stuff super-classes with things ignored - CrOC's own evaluation
# code is not released, so which one CrOC used cannot be checked here.)
CROC_LINEAR_COLUMNS = {  # column: (config, classes)
    'PVOC12': ('linear_seg/linear_r50-d16_8xb2-40k_voc12aug-448x448.py', 21),
    'CC-Th.': ('linear_seg/linear_r50-d16_8xb2-40k_coco-things-448x448.py', 12),
    'CC-St.': ('linear_seg/linear_r50-d16_8xb2-40k_coco-stuff27-448x448.py', 27),
    'ADE20K': ('linear_seg/linear_r50-d16_8xb2-40k_ade20k-448x448.py', 150),
}


@pytest.mark.parametrize('column', sorted(CROC_LINEAR_COLUMNS))
def test_croc_linear_transfer_columns_train_and_test_on_the_target(column):
    rel, classes = CROC_LINEAR_COLUMNS[column]
    cfg = load(osp.join(BENCH, rel))
    assert cfg.model.decode_head.num_classes == classes
    assert cfg.model.backbone.frozen_stages == 4  # a linear layer on frozen features

    def roots(loader):
        ds = loader.dataset
        return {d.data_root for d in ds.datasets} if ds.type == 'ConcatDataset' else {ds.data_root}
    # probe trained on the target dataset's train split, scored on its val split
    assert roots(cfg.train_dataloader) == roots(cfg.val_dataloader)
