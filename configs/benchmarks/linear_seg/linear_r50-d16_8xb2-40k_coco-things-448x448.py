# Linear segmentation probe on COCO-Things: the COCO-Stuff-27 labels restricted to the
# 12 thing super-classes (CrOC / Leopart's CC-Th.); stuff pixels are ignored (255).
# Built with mmseg's class-subset mechanism: giving CocoStuff27Dataset the 12 thing
# names as `metainfo.classes` makes it remap labels 0-11 to themselves and 12-26 to
# 255 (BaseSegDataset.get_label_map). The names must be the dataset's first 12
# (mmdense.datasets.coco_stuff27.THING_SUPERCATEGORIES; a test checks it).
# Protocol in ../_base_/linear_seg_448_40k.py and docs/benchmarks/transfer.md.
_base_ = ['../_base_/linear_seg_448_40k.py']

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'
thing_classes = ('electronic', 'appliance', 'food', 'furniture', 'indoor', 'kitchen',
                 'accessory', 'animal', 'outdoor', 'person', 'sports', 'vehicle')
model = dict(
    backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=12))

# The full import path: under default_scope='mmseg' a scope prefix such as
# 'mmdense.CocoStuff27Dataset' is not found (mmdense's registries hang below
# mmpretrain's, and mmengine only resolves prefixes of the root's direct children);
# mmengine imports a dotted path itself.
dataset_type = 'mmdense.datasets.coco_stuff27.CocoStuff27Dataset'
data_root = 'data/coco_stuff27'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        metainfo=dict(classes=thing_classes),
        ann_file='image_lists/train2017.txt',
        data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        metainfo=dict(classes=thing_classes),
        ann_file='image_lists/val2017.txt',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
