# FCN-16s PASCAL VOC transfer as the official SlotCon run made it (SlotCon repository,
# transfer/segmentation/configs/voc12aug/fcn_d6_r50-d16_513x513_30k_voc12aug_moco.py,
# an mmseg 0.x config; 2 GPUs x 8 images = batch 16). Everything else is the current
# config, ./fcn_r50-d16_8xb2-30k_voc12aug-513x513.py; what differs (side by side in
# docs/benchmarks/transfer.md):
# - training scale: short side 513 x r, r in [0.5, 2.0] (mmseg 0.x img_scale=(2049, 513),
#   ratio_range=(0.5, 2.0)), instead of the original image x r;
# - inference at short side 513 (img_scale=(2049, 513), keep ratio), scored at the
#   original resolution, instead of the original image;
# - align_corners=True in the decode head;
# - the loss averaged over ALL pixels, ignored ones included (avg_non_ignore=False);
# - contract_dilation=True (mmseg 0.x's fcn_r50-d8 base): first conv5 block dilation 1.
# Inference stays on the whole image (no sliding window), as in the official run.
#
#   bash tools/dist_train.sh configs/benchmarks/fcn/fcn_r50-d16_8xb2-30k_voc12aug-513x513_official.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth
_base_ = ['./fcn_r50-d16_8xb2-30k_voc12aug-513x513.py']

crop_size = (513, 513)
model = dict(
    backbone=dict(contract_dilation=True),
    decode_head=dict(align_corners=True, loss_decode=dict(avg_non_ignore=False)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2049, 513), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2049, 513), keep_ratio=True),
    dict(type='LoadAnnotations'),  # after Resize: scored at the original resolution
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012',
             data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
             ann_file='ImageSets/Segmentation/train.txt', pipeline=train_pipeline),
        dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012',
             data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
             ann_file='ImageSets/Segmentation/aug.txt', pipeline=train_pipeline),
    ]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
