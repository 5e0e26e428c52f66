# Linear segmentation probe on PASCAL VOC 2012: frozen ResNet-50 + one 1x1 conv,
# trained on train_aug (10582 images), evaluated on val (21 classes). Protocol in
# ../_base_/linear_seg_448_40k.py and docs/benchmarks/transfer.md.
#
#   bash tools/dist_train.sh configs/benchmarks/linear_seg/linear_r50-d16_8xb2-40k_voc12aug-448x448.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth
_base_ = ['../_base_/linear_seg_448_40k.py']

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=21))

dataset_type = 'PascalVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
train_dataloader = dict(
    dataset=dict(
        type='ConcatDataset',
        datasets=[  # mmseg's train_aug layout: VOC train + SBD (aug)
            dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 ann_file='ImageSets/Segmentation/train.txt',
                 pipeline={{_base_.train_pipeline}}),
            dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
                 ann_file='ImageSets/Segmentation/aug.txt',
                 pipeline={{_base_.train_pipeline}}),
        ]))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
