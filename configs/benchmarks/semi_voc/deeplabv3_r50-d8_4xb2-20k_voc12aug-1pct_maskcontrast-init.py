# Semi-supervised fine-tuning (1 % of VOC train_aug labelled) from a MaskContrast checkpoint:
# the whole DeepLab-v3 starts pre-trained, the dilated ResNet-50 from 'backbone.' and the
# ASPP decode head (256 channels, MaskContrast's decoder) from 'neck.' (the same keys as
# mmseg's ASPPHead); only the new 21-class classifier (conv_seg) keeps its own init.
# Everything else (data, schedule) is the 1 % config. Other fractions: the same two
# overrides on their configs, e.g.
#   bash tools/dist_train.sh configs/benchmarks/semi_voc/deeplabv3_r50-d8_4xb2-20k_voc12aug-5pct.py 4 \
#       --cfg-options model.backbone.init_cfg.checkpoint=CKPT model.backbone.init_cfg.prefix=backbone. \
#       model.decode_head.channels=256 \
#       model.decode_head.init_cfg="[dict(type='Normal',std=0.01,override=dict(name='conv_seg')),dict(type='mmdense.StrictPretrained',checkpoint='CKPT',prefix='neck.',keep_init=['conv_seg.'])]"
_base_ = ['./deeplabv3_r50-d8_4xb2-20k_voc12aug-1pct.py']

pretrained = 'work_dirs/maskcontrast_resnet50-d8_1xb64-poly-60e_voc12aug/epoch_60.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained,
                                prefix='backbone.')),
    decode_head=dict(
        channels=256,
        init_cfg=[
            # the classifier: mmseg's own init for conv_seg
            dict(type='Normal', std=0.01, override=dict(name='conv_seg')),
            dict(type='mmdense.StrictPretrained', checkpoint=pretrained, prefix='neck.',
                 keep_init=['conv_seg.']),
        ]))
