# Semi-supervised fine-tuning on VOC 2012 with 2 % of train_aug labelled (split seed 0;
# the paper averages seeds 0, 1, 2: override the two ann_file entries). Set-up in
# ../_base_/semi_voc12aug_deeplabv3.py; lists from
#   python tools/dataset_converters/make_semi_splits.py \
#       --ann-file data/VOCdevkit/VOC2012/ImageSets/Segmentation/trainaug.txt \
#       --partition data/VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt \
#       --seed 0 --out-dir data/VOCdevkit/VOC2012/ImageSets/Segmentation/semi
_base_ = ['../_base_/semi_voc12aug_deeplabv3.py']

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'
model = dict(backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)))

labelled = 'ImageSets/Segmentation/semi/2pct_seed0'
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012',
             data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
             ann_file=labelled + '_train.txt', pipeline={{_base_.train_pipeline}}),
        dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012',
             data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
             ann_file=labelled + '_rest.txt', pipeline={{_base_.train_pipeline}}),
    ]))
