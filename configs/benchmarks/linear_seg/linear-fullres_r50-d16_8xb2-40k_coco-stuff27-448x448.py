# ViCE-style linear probe on COCO-Stuff-27 (27 super-classes, mmdense's CocoStuff27Dataset):
# frozen ResNet-50, its dense output upsampled to the input resolution BEFORE the 1x1 conv
# (UpsampledLinearHead), full-resolution logits in the loss. Protocol in
# ../_base_/linear-fullres_seg_448_40k.py and docs/benchmarks/transfer.md
# ("ViCE-style full-resolution linear probe"). Same data and schedule as
# linear_r50-d16_8xb2-40k_coco-stuff27-448x448.py.
#
#   bash tools/dist_train.sh configs/benchmarks/linear_seg/linear-fullres_r50-d16_8xb2-40k_coco-stuff27-448x448.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/<run>/backbone.pth
_base_ = ['../_base_/linear-fullres_seg_448_40k.py']

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=27))

# full import path: see linear_r50-d16_8xb2-40k_coco-stuff27-448x448.py
dataset_type = 'mmdense.datasets.coco_stuff27.CocoStuff27Dataset'
data_root = 'data/coco_stuff27'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='image_lists/train2017.txt',
        data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='image_lists/val2017.txt',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
