# SlotCon, ResNet-50, COCO train2017, 800 epochs: the paper's main run
# (Table 2: Mask R-CNN 1x AP^b 41.0 / AP^m 37.0; FCN City 76.2, VOC 71.6, ADE 39.0).
#   tools/dist_train.sh configs/slotcon/slotcon_resnet50_8xb64-coslr-800e_coco.py 8
# 8 GPUs x 64 images = 512 per step, LARS lr 1.0 x 512 / 256 = 2.0, AMP, SyncBN.
_base_ = [
    '../_base_/models/slotcon_r50.py',
    '../_base_/datasets/coco_unlabeled.py',
    '../_base_/pipelines/byol_two_view.py',
    '../_base_/schedules/lars_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=5, max_keep_ckpts=3))
