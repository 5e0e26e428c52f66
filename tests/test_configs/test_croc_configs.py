# Copyright (c) mmdense contributors. All rights reserved.
"""CrOC's configs: the paper vs released-code switches (SPEC §2), the DINO
schedule, the ViT-S/16 linear probes, and the demo through tools/train.py
(with an exact resume)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests.harness.paths import REPO
from tests.harness.reliability import logged_scalars, train_in_process

CROC = osp.join(REPO, 'configs', 'croc')
COCO = osp.join(CROC, 'croc_vit-small-p16_2xb128-coslr-300e_coco.py')
COCO_PLUS = osp.join(CROC, 'croc_vit-small-p16_2xb128-coslr-300e_coco-plus.py')
IN1K = osp.join(CROC, 'croc_vit-small-p16_4xb256-coslr-300e_in1k.py')
OFFICIAL = osp.join(CROC, 'croc_vit-small-p16_2xb16-coslr-300e_coco_official-defaults.py')
DEMO = osp.join(CROC, 'croc_vit-tiny-p8_1xb32-300iters_synthetic.py')
PROBES = sorted(glob.glob(osp.join(REPO, 'configs', 'benchmarks', 'linear_seg_vit', '*.py')))


def _hook(cfg, name):
    return next((h for h in cfg.get('custom_hooks', []) if h.type == name), None)


def _crop_scale(cfg):
    crop = next(t for t in cfg.train_dataloader.dataset.pipeline
                if t.type == 'MultiViewRandomResizedCrop')
    return tuple(crop.view_groups[0].scale)


@pytest.mark.parametrize('path, source, lambda_pos', [(COCO, 'values', 4.), (COCO_PLUS, 'values', 4.),
                                                      (IN1K, 'keys', 3.)])
def test_paper_configs_use_the_papers_values(path, source, lambda_pos):
    cfg = Config.fromfile(path)
    model = cfg.model
    assert (model.token_source, model.clustering.lambda_pos) == (source, lambda_pos)
    assert model.clustering.num_seeds == 12 and model.clustering.max_eligible is None
    assert model.clustering.sinkhorn_lambda == 20. and model.clustering.sinkhorn_iters == 5
    assert model.global_loss.teacher_temp == model.dense_loss.teacher_temp == 0.07
    warmup = _hook(cfg, 'TeacherTempWarmupHook')
    assert (warmup.warmup_temp, warmup.warmup, warmup.by_epoch) == (0.04, 30, True)
    assert set(warmup.module_names) == {'global_loss', 'dense_loss'}
    assert _crop_scale(cfg) == (0.4, 1.0)
    assert model.backbone.arch == 'deit-small' and model.backbone.patch_size == 16
    assert model.backbone.drop_path_rate == 0.1
    assert model.head.out_dims == (65536, 8192)
    # one source for each loss's size: the head
    assert 'out_dim' not in model.global_loss and 'out_dim' not in model.dense_loss


def test_official_defaults_config_reproduces_the_released_argparse():
    cfg = Config.fromfile(OFFICIAL)
    model = cfg.model
    assert (model.clustering.num_seeds, model.clustering.max_eligible) == (5, 4)
    assert model.token_source == 'keys' and model.clustering.lambda_pos == 4.
    assert model.global_loss.teacher_temp == model.dense_loss.teacher_temp == 0.04
    assert _hook(cfg, 'TeacherTempWarmupHook') is None
    assert _crop_scale(cfg) == (0.25, 1.0)
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(5e-4 * 32 / 256)


@pytest.mark.parametrize('path', [COCO, IN1K, OFFICIAL])
def test_dino_schedule(path):
    cfg = Config.fromfile(path)
    total = {COCO: 256, IN1K: 1024, OFFICIAL: 32}[path]
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and optim.optimizer.weight_decay == 0.04
    assert optim.optimizer.lr == pytest.approx(5e-4 * total / 256)
    assert optim.clip_grad.max_norm == 3.0 and optim.dtype == 'float16'
    # DINO's clip_gradients (each parameter's own norm), as the released code
    assert optim.type == 'PerParamClipAmpOptimWrapper' and optim.clip_grad.per_parameter is True
    assert optim.paramwise_cfg == dict(norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.)
    warmup, cosine, decay = cfg.param_scheduler
    assert (warmup.type, warmup.end, cosine.eta_min, cosine.end) == ('LinearWarmupLR', 10, 1e-6, 300)
    assert (decay.param_name, decay.eta_min_ratio, decay.end) == ('weight_decay', 10., 300)
    assert _hook(cfg, 'FreezeLastLayerHook').frozen == 1
    assert cfg.model.teacher_momentum == 0.996 and cfg.model.end_teacher_momentum == 1.0
    assert cfg.train_cfg.max_epochs == 300


def test_weight_decay_rises_cosinely_and_spares_norms_and_biases():
    """The demo's optimiser through mmengine: 0.04 -> 0.4 on weights, 0 on 1-D."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS
    from mmdense.utils import register_all_modules
    from tests.test_models.test_algorithms.croc_tiny import build_tiny_croc
    register_all_modules()
    cfg = Config.fromfile(DEMO)
    model = build_tiny_croc()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    scheduler = PARAM_SCHEDULERS.build(dict(cfg.param_scheduler[2], end=10),
                                       default_args=dict(optimizer=wrapper))
    decays = {}
    for _ in range(10):
        decays.setdefault('first', [g['weight_decay'] for g in wrapper.param_groups])
        scheduler.step()
    last = [g['weight_decay'] for g in wrapper.param_groups]
    names = {id(p): n for n, p in model.named_parameters()}
    for group, first, final in zip(wrapper.param_groups, decays['first'], last):
        flat = all(p.ndim == 1 for p in group['params'])
        # (the last of 10 steps is one step short of the end value, as DINO's schedule)
        expected = (0., 0.) if flat else (pytest.approx(0.04), pytest.approx(0.4, abs=0.01))
        assert (first, final) == expected, [names[id(p)] for p in group['params']]


@pytest.mark.parametrize('path', PROBES, ids=osp.basename)
def test_vit_probe_is_a_1x1_conv_on_the_frozen_exported_backbone(path, tmp_path):
    """Same data and schedule as the ResNet probe; only the classifier trains;
    an exported CrOC backbone (QKVVisionTransformer keys) loads exactly."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    import mmdense.models.utils.strict_pretrained  # noqa: F401 (registers the init)
    from mmdense.models.backbones import QKVVisionTransformer
    cfg = Config.fromfile(path)
    ref = Config.fromfile(path.replace('linear_seg_vit', 'linear_seg').replace(
        'vit-small-p16', 'r50-d16'))
    for key in ('train_dataloader', 'val_dataloader', 'optim_wrapper', 'param_scheduler',
                'train_cfg'):
        assert cfg[key] == ref[key], key
    assert cfg.model.decode_head.num_classes == ref.model.decode_head.num_classes
    assert cfg.vit_small_p16_checkpoint.endswith('backbone.pth')
    assert cfg.model.backbone.init_cfg == dict(type='mmdense.StrictPretrained',
                                               checkpoint=cfg.vit_small_p16_checkpoint)
    if path != PROBES[0]:
        return  # building ViT-S once is enough
    exported = QKVVisionTransformer(arch='deit-small', img_size=224, patch_size=16,
                                    out_type='raw').state_dict()
    exported = {k: torch.randn_like(v) for k, v in exported.items()}
    ckpt = str(tmp_path / 'backbone.pth')
    torch.save({'state_dict': exported}, ckpt)
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    state = model.backbone.state_dict()
    assert set(state) == set(exported)
    assert all(torch.equal(state[k], v) for k, v in exported.items())
    trainable = {k for k, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'decode_head.conv_seg.weight', 'decode_head.conv_seg.bias'}
    with torch.no_grad():
        assert model.extract_feat(torch.randn(1, 3, 448, 448))[0].shape == (1, 384, 28, 28)


# ------------------------------------------------------------------ demo, end to end
def _tiny_demo(folder, max_iters: int = 4, interval: int = 2) -> str:
    """The demo config, shrunk to seconds (batch 4, 32-px views, ViT of 2 blocks)."""
    path = osp.join(str(folder), 'croc_tiny_demo.py')
    with open(path, 'w') as f:
        f.write(f'''
_base_ = [{DEMO!r}]
train_pipeline = [
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=2, size=32, scale=(0.25, 1.0), interpolation='bicubic')]),
    dict(type='ViewwisePipeline',
         view_pipelines=[{{{{_base_.view_pipeline1}}}}, {{{{_base_.view_pipeline2}}}}]),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(num_samples=16, img_size=64, pipeline=train_pipeline))
model = dict(backbone=dict(arch=dict(embed_dims=32, num_layers=2, num_heads=4,
                                     feedforward_channels=64), img_size=32, drop_path_rate=0.1),
             head=dict(in_dim=32, out_dims=(64, 32), hidden_dim=32, bottleneck_dim=16),
             clustering=dict(num_seeds=4))
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=1e-3, by_epoch=False, begin=0, end=2),
    dict(type='CosineAnnealingLR', T_max={max_iters} - 2, eta_min=1e-6, by_epoch=False,
         begin=2, end={max_iters}),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.,
         by_epoch=False, begin=0, end={max_iters}),
]
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='TeacherTempWarmupHook', module_names=('global_loss', 'dense_loss'),
         warmup_temp=0.02, warmup=3, by_epoch=False),
    dict(type='FreezeLastLayerHook', frozen=1, by_epoch=False),
]
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters + 1})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={interval}, max_keep_ckpts=3))
''')
    return path


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.mark.slow
def test_demo_config_trains_through_tools_train_and_resumes_exactly(tmp_path):
    config = _tiny_demo(tmp_path)
    train_in_process(config, tmp_path / 'ref')
    ref = logged_scalars(str(tmp_path / 'ref'))
    assert sorted(ref) == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in ref.values())
    first, last = _state(tmp_path / 'ref' / 'iter_2.pth'), _state(tmp_path / 'ref' / 'iter_4.pth')
    # the frozen last layers (iteration 1) moved afterwards; the teacher follows
    assert int(last['state_dict']['teacher.steps']) == 4
    assert not torch.equal(first['state_dict']['head.last_layers.0.weight_v'],
                           last['state_dict']['head.last_layers.0.weight_v'])

    out = train_in_process(config, tmp_path / 'resumed', '--resume',
                           str(tmp_path / 'ref' / 'iter_2.pth'))
    assert 'resumed epoch: 0, iter: 2' in out
    resumed = logged_scalars(str(tmp_path / 'resumed'), newest_only=True)
    assert sorted(resumed) == [3, 4]
    for it in (3, 4):
        for key in ('loss', 'loss_global', 'loss_dense', 'num_centroids', 'lr'):
            assert resumed[it][key] == ref[it][key], (it, key)
    end = _state(tmp_path / 'resumed' / 'iter_4.pth')
    for key, value in last['state_dict'].items():
        assert torch.equal(value, end['state_dict'][key]), key
    assert end['optimizer']['param_groups'][0]['weight_decay'] == \
        last['optimizer']['param_groups'][0]['weight_decay']
