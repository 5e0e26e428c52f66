# FCN-16s transfer to Cityscapes (train_fine -> val_fine), SlotCon supplementary A.2.2
# (MoCo's protocol): random scaling by a ratio in [0.5, 2.0], 769 crop, flip; batch 16
# (8 GPUs x 2), SGD lr 0.01, weight decay 1e-4, x0.1 at 70 % and 90 % of 90k
# iterations; inference on the original 2048 x 1024 image. Paper (SlotCon, COCO 800 ep): 76.2 mIoU.
#
#   bash tools/dist_train.sh configs/benchmarks/fcn/fcn_r50-d16_8xb2-90k_cityscapes-769x769.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth
_base_ = [
    '../_base_/models/fcn_r50-d16.py',
    'mmseg::_base_/datasets/cityscapes.py',
    'mmseg::_base_/default_runtime.py',
]
# mmdense.safety: weights-only checkpoint loading; strict_pretrained registers
# 'mmdense.StrictPretrained' (a backbone init that refuses a file missing any key)
custom_imports = dict(
    imports=['mmdense', 'mmdense.safety', 'mmdense.models.utils.strict_pretrained'],
    allow_failed_imports=False)

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'

crop_size = (769, 769)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=19))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # every Cityscapes image is 2048 x 1024: this rescales it by r in [0.5, 2]
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [  # original size
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,  # x 8 GPUs = 16
    num_workers=4,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 90000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    clip_grad=None)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(0.7 * max_iters), int(0.9 * max_iters)], gamma=0.1),
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
