# Linear segmentation probe on Cityscapes (train_fine -> val_fine, 19 classes):
# frozen ResNet-50 + one 1x1 conv, images at short side 448 (896 x 448).
# Protocol in ../_base_/linear_seg_448_40k.py and docs/benchmarks/transfer.md.
_base_ = ['../_base_/linear_seg_448_40k.py']

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=19))

dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes/'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
