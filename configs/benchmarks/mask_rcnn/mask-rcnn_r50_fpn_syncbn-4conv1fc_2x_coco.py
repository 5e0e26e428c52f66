# As the 1x config, with the 2x schedule: 180k iterations, x0.1 at 120k and 160k
# (SlotCon supplementary B.1, Table 1: AP^m 38.2 with COCO 800 ep pre-training).
_base_ = ['./mask-rcnn_r50_fpn_syncbn-4conv1fc_1x_coco.py']

pretrained = 'work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth'
model = dict(backbone=dict(init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)))

max_iters = 180000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[120000, 160000], gamma=0.1),
]
# precise BN before the (final) evaluation, at the new evaluation interval
custom_hooks = [
    dict(type='mmdense.PreciseBNHook', num_iters=200, interval=max_iters, priority='ABOVE_NORMAL'),
]
