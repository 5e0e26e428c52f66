# FCN transfer to ADE20K, SlotCon supplementary A.2.2: "FCN-8s", MMSegmentation's
# standard 80k schedule: batch 16 (4 GPUs x 4), SGD lr 0.01, weight decay 5e-4, poly
# (power 0.9, min lr 1e-4), 512 crops. This is mmseg's own
# fcn_r50-d8_4xb4-80k_ade20k-512x512 (dilated ResNet-50 at output stride 8, FCN head
# + auxiliary FCN head on conv4), which is what "FCN-8s ... standard 80k schedule of
# MMSegmentation" denotes, with two changes: a plain `ResNet` (torchvision stem, as
# pre-trained) instead of `ResNetV1c`, and the mmdense backbone as initialisation.
# Paper (SlotCon, COCO 800 ep): 39.0 mIoU.
#
#   bash tools/dist_train.sh configs/benchmarks/fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py 4 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth
_base_ = ['mmseg::fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py']
# mmdense.safety: weights-only checkpoint loading; strict_pretrained registers
# 'mmdense.StrictPretrained' (a backbone init that refuses a file missing any key)
custom_imports = dict(
    imports=['mmdense', 'mmdense.safety', 'mmdense.models.utils.strict_pretrained'],
    allow_failed_imports=False)

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'

model = dict(
    pretrained=None,
    backbone=dict(
        type='ResNet',  # not ResNetV1c: no deep stem
        depth=50,
        style='pytorch',
        init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)))
