# Data pipeline and schedule shared by the linear segmentation probes
# (configs/benchmarks/linear_seg/). Schedule after MaskContrast's linear classifier
# (appendix D): batch 16, SGD momentum 0.9, weight decay 1e-4, lr 0.1, x0.1 after
# two thirds of training (their 60 / 40 epochs on VOC train_aug at batch 16 are
# 39.7k / 26.5k iterations). mmdense runs the same 40k-iteration budget on every
# dataset so that the probes are comparable.
# Images: short side 448 x r, r in [0.5, 2], random 448 crop, flip; test: short side 448.
_base_ = [
    './models/linear_r50-d16.py',
    'mmseg::_base_/default_runtime.py',
]
# mmdense.safety: weights-only checkpoint loading; strict_pretrained registers
# 'mmdense.StrictPretrained' (a backbone init that refuses a file missing any key)
custom_imports = dict(
    imports=['mmdense', 'mmdense.safety', 'mmdense.models.utils.strict_pretrained'],
    allow_failed_imports=False)

crop_size = (448, 448)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)

# (2048, 448) with keep_ratio: short side 448 (long side capped at 2048)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 448), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),  # after Resize: metrics at the original resolution
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,  # x 8 GPUs = 16
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 40000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    clip_grad=None)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[max_iters * 2 // 3], gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# mmseg's default_runtime has no default_hooks (its schedules set them): the logger
# logs validation metrics at the iteration (not "epoch 0"), the visualization hook
# (off unless `tools/test.py --show-dir`) draws predictions; visualizer from mmseg's
# default_runtime (SegLocalVisualizer). log_processor: by_epoch=False, from there too.
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=2),
    visualization=dict(type='SegVisualizationHook'))
