# Semi-supervised fine-tuning on PASCAL VOC 2012 with a fraction of train_aug labelled
# (MaskContrast section 4.6 / appendix F, its "pre-trained backbone" baseline set-up):
# DeepLab-v3 (ASPP) on a dilated ResNet-50 (output stride 8), every layer fine-tuned,
# batch 8 (4 GPUs x 2, SyncBN), SGD momentum 0.9, lr 0.004, weight decay 1e-4, poly
# decay. The paper does not give the schedule length; mmdense trains 20k iterations
# for every fraction (mmseg's VOC-aug schedule), so only the labelled list differs.
# The labelled lists come from tools/dataset_converters/make_semi_splits.py
# (--partition ImageSets/Segmentation/train.txt): each split is written as the names
# with VOC masks (SegmentationClass) and the SBD ones (SegmentationClassAug).
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py',
    'mmseg::_base_/default_runtime.py',
]
# mmdense.safety: weights-only checkpoint loading; strict_pretrained registers
# 'mmdense.StrictPretrained' (a backbone init that refuses a file missing any key)
custom_imports = dict(
    imports=['mmdense', 'mmdense.safety', 'mmdense.models.utils.strict_pretrained'],
    allow_failed_imports=False)

crop_size = (513, 513)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(type='ResNet', depth=50, style='pytorch', frozen_stages=-1),  # no deep stem
    # loss: mean over the labelled pixels (PyTorch's cross_entropy with ignore_index)
    decode_head=dict(num_classes=21, loss_decode=dict(avg_non_ignore=True)),
    auxiliary_head=None)

dataset_type = 'PascalVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # VOC's long side is 500 px: a ratio in [0.5, 2] of the original image
    dict(type='RandomResize', scale=(500, 500), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,  # x 4 GPUs = 8
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 ann_file='ImageSets/Segmentation/semi/100pct_seed0_train.txt',
                 pipeline=train_pipeline),
            dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
                 ann_file='ImageSets/Segmentation/semi/100pct_seed0_rest.txt',
                 pipeline=train_pipeline),
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 20000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.004, momentum=0.9, weight_decay=1e-4),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# mmseg's default_runtime has no default_hooks (its schedules set them): the logger
# logs validation metrics at the iteration (not "epoch 0"), the visualization hook
# (off unless `tools/test.py --show-dir`) draws predictions; visualizer from mmseg's
# default_runtime (SegLocalVisualizer). log_processor: by_epoch=False, from there too.
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook'))
