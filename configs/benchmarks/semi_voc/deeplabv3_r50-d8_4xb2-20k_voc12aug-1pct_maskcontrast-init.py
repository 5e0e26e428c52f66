# Semi-supervised fine-tuning (1 % of VOC train_aug labelled) from a MaskContrast checkpoint:
# the whole DeepLab-v3 starts pre-trained, the dilated ResNet-50 from 'backbone.' and the
# ASPP decode head (256 channels, MaskContrast's decoder) from 'neck.' (the same keys as
# mmseg's ASPPHead); only the new 21-class classifier (conv_seg) keeps its own init.
# Everything else (data, schedule) is the 1 % config. Other fractions: the same config with
# the two labelled lists of the fraction, e.g. 5 %:
#   bash tools/dist_train.sh configs/benchmarks/semi_voc/deeplabv3_r50-d8_4xb2-20k_voc12aug-1pct_maskcontrast-init.py 4 \
#       --cfg-options train_dataloader.dataset.datasets.0.ann_file=ImageSets/Segmentation/semi/5pct_seed0_train.txt \
#       train_dataloader.dataset.datasets.1.ann_file=ImageSets/Segmentation/semi/5pct_seed0_rest.txt
_base_ = ['./deeplabv3_r50-d8_4xb2-20k_voc12aug-1pct.py']

pretrained = 'work_dirs/maskcontrast_resnet50-d8_1xb64-poly-60e_voc12aug/epoch_60.pth'
model = dict(
    # MaskContrast's backbone (mmpretrain's ResNet) does not contract the first dilation of a
    # stage; mmseg's deeplabv3 base does (contract_dilation=True): the same keys, other features
    backbone=dict(contract_dilation=False,
                  init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained,
                                prefix='backbone.')),
    decode_head=dict(
        channels=256,
        init_cfg=[
            # the classifier: mmseg's own init for conv_seg
            dict(type='Normal', std=0.01, override=dict(name='conv_seg')),
            dict(type='mmdense.StrictPretrained', checkpoint=pretrained, prefix='neck.',
                 keep_init=['conv_seg.']),
        ]))
