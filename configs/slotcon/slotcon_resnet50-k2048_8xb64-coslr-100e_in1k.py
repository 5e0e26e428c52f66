# SlotCon, ResNet-50, ImageNet-1K, 100 epochs, K = 2048 prototypes (paper Table 3/4).
# The 200-epoch config inherits from this one.
_base_ = [
    '../_base_/models/slotcon_r50.py',
    '../_base_/datasets/imagenet_unlabeled.py',
    '../_base_/pipelines/byol_two_view.py',
    '../_base_/schedules/lars_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))
model = dict(grouping=dict(num_prototypes=2048))  # K, written once

max_epochs = 100
warmup_epochs = 5
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3))
