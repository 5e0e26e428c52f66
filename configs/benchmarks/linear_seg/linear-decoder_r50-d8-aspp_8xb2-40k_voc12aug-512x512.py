# MaskContrast's linear classifier protocol on PASCAL VOC 2012 (SPEC §4): the pre-trained
# network frozen whole, backbone (dilated ResNet-50, output stride 8) AND its DeepLab-v3
# decoder (ASPP, 256 channels), and ONE 1x1 conv trained on the decoder features. 60 epochs
# of train_aug at batch 16 = 40k iterations, SGD lr 0.1 -> 0.01 after 40 epochs (the base's
# step at 2/3), weight decay 1e-4; 512 x 512 crops. Both parts load from the MaskContrast
# training checkpoint itself (the query network, keys 'backbone.' / 'neck.', which the
# released code evaluates); StrictPretrained refuses a file missing any key of either.
#
#   bash tools/dist_train.sh configs/benchmarks/linear_seg/linear-decoder_r50-d8-aspp_8xb2-40k_voc12aug-512x512.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=CKPT model.neck.init_cfg.checkpoint=CKPT
_base_ = ['./linear_r50-d16_8xb2-40k_voc12aug-448x448.py']

pretrained = 'work_dirs/maskcontrast_resnet50-d8_1xb64-poly-60e_voc12aug/epoch_60.pth'
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    # the MaskContrast backbone: output stride 8 (conv4 and conv5 dilated 2 and 4)
    backbone=dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                  init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained,
                                prefix='backbone.')),
    neck=dict(type='mmdense.ASPPNeck', in_channels=2048, channels=256,
              dilations=(1, 12, 24, 36), frozen=True,
              init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained,
                            prefix='neck.')),
    decode_head=dict(in_channels=256, channels=256))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(datasets=[
    dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012',
         data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
         ann_file='ImageSets/Segmentation/train.txt', pipeline=train_pipeline),
    dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012',
         data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
         ann_file='ImageSets/Segmentation/aug.txt', pipeline=train_pipeline),
]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
