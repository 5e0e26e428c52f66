# Linear segmentation probe on ADE20K (SceneParsing, 150 classes; label 0 "other" is
# ignored by ADE20KDataset's reduce_zero_label): frozen ResNet-50 + one 1x1 conv.
# Protocol in ../_base_/linear_seg_448_40k.py and docs/benchmarks/transfer.md.
_base_ = ['../_base_/linear_seg_448_40k.py']

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=150))

dataset_type = 'ADE20KDataset'
data_root = 'data/ade/ADEChallengeData2016'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
