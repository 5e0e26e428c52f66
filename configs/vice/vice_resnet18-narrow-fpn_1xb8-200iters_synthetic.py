# ViCE CPU demo: a narrow ResNet-18 + FPN trained for a few minutes on synthetic scenes on 2 CPU
# cores (8 scenes x M = 5 views of 48 px per step, online SLIC), then evaluated by unsupervised segmentation of
# held-out scenes (prototype argmax, K = number of classes, Hungarian matching).
#   python tools/demo.py configs/vice/vice_resnet18-narrow-fpn_1xb8-200iters_synthetic.py \
#       --work-dir work_dirs/vice_demo
_base_ = [
    '../_base_/models/vice_r18_fpn.py',
    '../_base_/datasets/synthetic_scenes.py',
    '../_base_/pipelines/vice_views.py',
    '../_base_/schedules/cpu_demo_runtime.py',
]
embed_dim = 32
view_size = 48
num_views = 5
train_pipeline = [
    # the scenes are 128 px: superpixels of ~8 px side give ~250 regions per image
    dict(type='Superpixels', region_size=8, ruler=10., num_iters=5, blur_size=3),
    dict(type='CannyCentre', low=100., high=200., sigma=0.05),
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=num_views, size=view_size, size_coefficient=(0.5, 1.5),
                           interpolation='bilinear', flip_prob=0.5)],
         min_overlap=0., centre_key='crop_centre'),
    dict(type='ViewwisePipeline', group_pipelines=[{{_base_.view_pipeline}}]),
    dict(type='RegionMasking', mode='superpixel', max_coverage=0.25),
    dict(type='MutualRegionFilter'),
    dict(type='PackMultiViewInputs'),
]
batch_size = 8
train_dataloader = dict(batch_size=batch_size, dataset=dict(pipeline=train_pipeline))
model = dict(
    backbone=dict(stem_channels=32, base_channels=32),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    decode_head=dict(in_channels=[64, 64, 64, 64], channels=64, num_classes=embed_dim),
    prototypes=dict(num_prototypes={{_base_.num_classes}}, dim=embed_dim),  # K = classes
    # schedule scaled to 200 iterations: prototypes frozen for the first 30, a queue of 500
    # region means (~6 steps) from iteration 30
    swav_loss=dict(queue_length=500, queue_start_iter=30, freeze_prototypes_iters=30),
)

max_iters = 200
warmup_iters = 20
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LARSOptimWrapperConstructor',
    # SGD + LARC in the paper; mmpretrain's LARS (trust ratio, 1-D params excluded) here
    optimizer=dict(type='LARS', lr=0.25, momentum=0.9, weight_decay=1e-6, eta=0.005),
)
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=1e-4, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
# val / test loops, iteration-based logs and checkpoints (2 kept), gloo: cpu_demo_runtime.py
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=100))
