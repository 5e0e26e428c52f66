# SlotCon, ResNet-50, COCO+ (train2017 + unlabeled2017), 800 epochs (paper Table 3).
_base_ = [
    '../_base_/models/slotcon_r50.py',
    '../_base_/datasets/cocoplus_unlabeled.py',
    '../_base_/pipelines/byol_two_view.py',
    '../_base_/schedules/lars_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=5, max_keep_ckpts=3))
