# FCN-16s Cityscapes transfer of the BDD100K-pretrained SlotCon (supplementary B.2,
# Table 2: 73.9 mIoU): the Cityscapes protocol of fcn_r50-d16_8xb2-90k_cityscapes-769x769.py
# unchanged, with the backbone exported from
# configs/slotcon/slotcon_resnet50-k64_8xb64-coslr-800e_bdd100k.py:
#   python tools/model_converters/extract_backbone.py \
#       work_dirs/slotcon_resnet50-k64_8xb64-coslr-800e_bdd100k/epoch_800.pth \
#       work_dirs/slotcon_resnet50-k64_8xb64-coslr-800e_bdd100k/backbone.pth
#   bash tools/dist_train.sh configs/benchmarks/fcn/fcn_r50-d16_8xb2-90k_cityscapes-769x769_slotcon-bdd100k.py 8
# (The same backbone on the official SlotCon transfer code's variant of the protocol: the
# `pretrained` override on fcn_r50-d16_8xb2-90k_cityscapes-769x769_official.py.)
_base_ = ['./fcn_r50-d16_8xb2-90k_cityscapes-769x769.py']

pretrained = 'work_dirs/slotcon_resnet50-k64_8xb64-coslr-800e_bdd100k/backbone.pth'
model = dict(backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)))
