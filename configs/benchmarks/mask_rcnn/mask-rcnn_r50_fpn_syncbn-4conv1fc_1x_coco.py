# Mask R-CNN R50-FPN, 1x (90k iterations), COCO instance segmentation, from a
# self-supervised backbone (SlotCon supplementary A.2.1; the detectron2 set-up of
# MoCo / DenseCL / PixPro / SlotCon): SyncBN in backbone, FPN and heads, 4conv1fc
# box head, all layers fine-tuned, batch 16 (8 GPUs x 2), SGD lr 0.02, linear
# warm-up over 1000 iterations, x0.1 at 60k and 80k, train short side sampled from
# 640-800 (step 32), test short side 800. Paper (SlotCon, COCO 800 ep): AP^b 41.0 / AP^m 37.0.
#
#   python tools/model_converters/extract_backbone.py CKPT work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth
#   bash tools/dist_train.sh configs/benchmarks/mask_rcnn/mask-rcnn_r50_fpn_syncbn-4conv1fc_1x_coco.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
# mmdense.safety: weights-only checkpoint loading; strict_pretrained registers
# 'mmdense.StrictPretrained' (a backbone init that refuses a file missing any key);
# precise_bn_hook registers 'mmdense.PreciseBNHook'
custom_imports = dict(
    imports=['mmdense', 'mmdense.safety', 'mmdense.models.utils.strict_pretrained',
             'mmdense.engine.hooks.precise_bn_hook'],
    allow_failed_imports=False)

# The backbone checkpoint (tools/model_converters/extract_backbone.py output). To load
# straight from a full mmdense checkpoint instead, add prefix='teacher.module.backbone.'
# to init_cfg below.
pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        type='ResNet',
        depth=50,
        style='pytorch',  # stride in the 3x3 conv, as torchvision / mmpretrain
        frozen_stages=-1,  # fine-tune every layer, the stem included
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            fc_out_channels=1024,
            norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomChoiceResize',
         scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)],
         keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2,  # x 8 GPUs = 16
    num_workers=4,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# iteration-based schedule, exactly the paper's
max_iters = 90000
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[60000, 80000], gamma=0.1),
]
# no weight decay on norm layers (detectron2's SOLVER.WEIGHT_DECAY_NORM = 0.0; biases keep
# the decay, as detectron2's WEIGHT_DECAY_BIAS defaults to WEIGHT_DECAY)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
                     paramwise_cfg=dict(norm_decay_mult=0.))
auto_scale_lr = dict(enable=False, base_batch_size=16)
# validation metrics logged at the iteration (log_metric_by_epoch=False), not "epoch 0";
# mmdet's default_runtime provides the DetVisualizationHook / DetLocalVisualizer that
# `tools/test.py --show-dir` switches on
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)

# Precise BN before each evaluation (detectron2's TEST.PRECISE_BN of the MoCo / SlotCon
# detection configs: NUM_ITER 200): the BN statistics are recomputed as the mean over 200
# training batches (training forward, no gradient) with the final weights. Its interval is
# the evaluation interval (set with train_cfg.val_interval; the 2x config resets both).
custom_hooks = [
    dict(type='mmdense.PreciseBNHook', num_iters=200, interval=max_iters, priority='ABOVE_NORMAL'),
]
