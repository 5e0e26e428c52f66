# ViCE low-res, Cityscapes (paper Table 1: RN18 + FPN, 320 px views; Cityscapes-27
# C27* 19.52 mIoU, linear 31.55): 24 epochs, K = 128.
_base_ = [
    '../_base_/models/vice_r18_fpn.py',
    '../_base_/datasets/cityscapes_unlabeled.py',
    '../_base_/datasets/cityscapes27_unsup.py',
    '../_base_/pipelines/vice_train_cityscapes.py',  # 320 px views
    '../_base_/schedules/vice_sgd_larc_24e.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline={{_base_.train_pipeline}}))
test_evaluator = dict(type='UnsupervisedSegMetric', num_classes=27, num_clusters=128,
                      matching='majority')
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=2, max_keep_ckpts=2))
