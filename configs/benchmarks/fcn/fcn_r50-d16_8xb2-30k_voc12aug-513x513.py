# FCN-16s transfer to PASCAL VOC 2012 (train_aug -> val), SlotCon supplementary A.2.2
# (MoCo's protocol): random scaling by a ratio in [0.5, 2.0], 513 crop, flip; batch 16
# (8 GPUs x 2), SGD lr 0.003, weight decay 1e-4, x0.1 at 70 % and 90 % of 30k
# iterations; inference on the original image. Paper (SlotCon, COCO 800 ep): 71.6 mIoU.
#
#   bash tools/dist_train.sh configs/benchmarks/fcn/fcn_r50-d16_8xb2-30k_voc12aug-513x513.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth
_base_ = [
    '../_base_/models/fcn_r50-d16.py',
    'mmseg::_base_/datasets/pascal_voc12_aug.py',
    'mmseg::_base_/default_runtime.py',
]
# mmdense.safety: weights-only checkpoint loading; strict_pretrained registers
# 'mmdense.StrictPretrained' (a backbone init that refuses a file missing any key)
custom_imports = dict(
    imports=['mmdense', 'mmdense.safety', 'mmdense.models.utils.strict_pretrained'],
    allow_failed_imports=False)

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'

crop_size = (513, 513)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=21))

# VOC images are at most 500 px on their long side (almost all exactly 500), so a
# keep-ratio resize to (500 r, 500 r) rescales the original image by r in [0.5, 2].
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(500, 500), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [  # original size
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
dataset_type = 'PascalVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
# train_aug = VOC train (SegmentationClass) + SBD (SegmentationClassAug), mmseg's layout
# (tools/dataset_converters/voc_aug.py of mmsegmentation).
train_dataloader = dict(
    batch_size=2,  # x 8 GPUs = 16
    num_workers=4,
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 ann_file='ImageSets/Segmentation/train.txt', pipeline=train_pipeline),
            dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
                 ann_file='ImageSets/Segmentation/aug.txt', pipeline=train_pipeline),
        ]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 30000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.003, momentum=0.9, weight_decay=1e-4),
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
