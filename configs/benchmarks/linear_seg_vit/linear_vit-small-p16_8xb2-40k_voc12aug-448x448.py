# Linear segmentation probe with a frozen ViT-S/16 (CrOC Table 1 protocol): the data,
# schedule and 1x1-conv classifier of ../linear_seg/linear_r50-d16_8xb2-40k_voc12aug-448x448.py,
# on the ViT's last-layer patch tokens (configs/benchmarks/_base_/models/vit-small-p16_frozen.py).
#
#   bash tools/dist_train.sh configs/benchmarks/linear_seg_vit/linear_vit-small-p16_8xb2-40k_voc12aug-448x448.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/croc_vit-small-p16_2xb128-coslr-300e_coco/backbone.pth
_base_ = ['../linear_seg/linear_r50-d16_8xb2-40k_voc12aug-448x448.py', '../_base_/models/vit-small-p16_frozen.py']

model = dict(backbone={{_base_.vit_small_p16_frozen}}, decode_head=dict(in_channels=384, channels=384))
