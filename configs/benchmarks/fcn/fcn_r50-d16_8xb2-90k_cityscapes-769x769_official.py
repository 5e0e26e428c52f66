# FCN-16s Cityscapes transfer as the official SlotCon run made it (SlotCon repository,
# transfer/segmentation/configs/cityscapes/fcn_d6_r50-d16_769x769_90k_cityscapes_moco.py,
# an mmseg 0.x config; 2 GPUs x 8 images = batch 16). Everything else is the current
# config, ./fcn_r50-d16_8xb2-90k_cityscapes-769x769.py; what differs (side by side in
# docs/benchmarks/transfer.md):
# - inference with 769 x 769 sliding windows, stride 513 (mmseg test_cfg mode='slide'),
#   on the image resized to (2049, 1025) (keep ratio: practically the original 2048 x 1024);
#   training scale (2049, 1025) x [0.5, 2.0];
# - align_corners=True in the decode head (upsampling of logits in loss and inference);
# - the loss averaged over ALL pixels, ignored ones included (mmseg's CrossEntropyLoss
#   avg_non_ignore=False, the 0.x default), not over the labelled ones only;
# - contract_dilation=True (mmseg 0.x's fcn_r50-d8 base): the first conv5 block has
#   dilation 1, the others 2.
# Not reproduced: mmseg 0.x's base names ResNetV1c (deep stem); an mmdense backbone has a
# torchvision stem, so the plain ResNet stays (see docs/benchmarks/transfer.md).
#
#   bash tools/dist_train.sh configs/benchmarks/fcn/fcn_r50-d16_8xb2-90k_cityscapes-769x769_official.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth
_base_ = ['./fcn_r50-d16_8xb2-90k_cityscapes-769x769.py']

crop_size = (769, 769)
model = dict(
    backbone=dict(contract_dilation=True),
    decode_head=dict(align_corners=True, loss_decode=dict(avg_non_ignore=False)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(513, 513)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2049, 1025), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2049, 1025), keep_ratio=True),
    dict(type='LoadAnnotations'),  # after Resize: scored at the original resolution
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
