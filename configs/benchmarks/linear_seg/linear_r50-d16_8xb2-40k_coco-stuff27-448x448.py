# Linear segmentation probe on COCO-Stuff-27 (27 super-classes: 12 things + 15 stuff;
# mmdense's CocoStuff27Dataset, labels written by tools/dataset_converters/cocostuff27.py):
# frozen ResNet-50 + one 1x1 conv, train2017 -> val2017 (the converter's image lists,
# i.e. the curated PiCIE lists when it was given them).
# Protocol in ../_base_/linear_seg_448_40k.py and docs/benchmarks/transfer.md.
_base_ = ['../_base_/linear_seg_448_40k.py']

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=27))

# The full import path: under default_scope='mmseg' a scope prefix such as
# 'mmdense.CocoStuff27Dataset' is not found (mmdense's registries hang below
# mmpretrain's, and mmengine only resolves prefixes of the root's direct children);
# mmengine imports a dotted path itself.
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
