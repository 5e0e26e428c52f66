# SlotCon CPU demo: a narrow ResNet-18 (output stride 16) trained for a few
# minutes on synthetic scenes on 2 CPU cores, then evaluated by unsupervised
# segmentation (prototype argmax, Hungarian matching, K = number of classes).
#   bash tools/demo.sh        (set-up + train + evaluate, random init vs trained)
_base_ = [
    '../_base_/models/slotcon_r50.py',
    '../_base_/datasets/synthetic_scenes.py',
    '../_base_/pipelines/byol_two_view.py',
    '../_base_/schedules/cpu_demo_runtime.py',
]
feat_dim = 128
crop_size = 96
train_pipeline = [
    # gt_seg_map (a seg_field) is cut, resized (nearest) and flipped with each view
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=2, size=crop_size, scale=(0.2, 1.0), interpolation='bicubic')],
         min_overlap=0.01, max_tries=10),
    dict(type='ViewwisePipeline',
         view_pipelines=[{{_base_.view_pipeline1}}, {{_base_.view_pipeline2}}]),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    backbone=dict(depth=18, stem_channels=32, base_channels=32, strides=(1, 2, 2, 1),
                  dilations=(1, 1, 1, 2), out_indices=(3, )),
    neck=dict(in_channels=256, hid_channels=512, out_channels=feat_dim),
    grouping=dict(num_prototypes={{_base_.num_classes}}, dim=feat_dim),  # K, written once
    predictor=dict(in_channels=feat_dim, hid_channels=512, out_channels=feat_dim),
)

max_iters = 400
warmup_iters = 40
batch_size = 32
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LARSOptimWrapperConstructor',
    # 400 steps instead of ~180k: the paper's absolute LARS lr (2.0, i.e. 1.0 x 512 / 256)
    # rather than its batch-scaled rule (0.125 at batch 32), which barely moves in 400 steps.
    # the official SlotCon LARS (see configs/_base_/schedules/lars_coslr.py for mmpretrain's)
    optimizer=dict(type='BarlowLARS', lr=2.0, momentum=0.9, weight_decay=1e-5, eta=0.001),
)
param_scheduler = [
    # full lr exactly at iteration warmup_iters, the first cosine iteration
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=1e-6, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
# val / test loops, iteration-based logs and checkpoints (2 kept), gloo: cpu_demo_runtime.py
default_hooks = dict(checkpoint=dict(interval=200))
