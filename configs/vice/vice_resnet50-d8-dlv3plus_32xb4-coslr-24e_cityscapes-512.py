# ViCE high-res, Cityscapes (paper Table 1: RN50-D8 + DeepLabV3+, 512 px views, K = 128;
# the paper's state-of-the-art Cityscapes result with overclustering): 24 epochs.
_base_ = [
    '../_base_/models/vice_r50_dlv3plus.py',
    '../_base_/datasets/cityscapes_unlabeled.py',
    '../_base_/datasets/cityscapes27_unsup.py',
    '../_base_/pipelines/vice_train_cityscapes.py',
    '../_base_/schedules/vice_sgd_larc_24e.py',
    '../_base_/default_runtime.py',
]
train_pipeline = [  # vice_train_cityscapes.py's steps with 512 px views
    *_base_.vice_load,
    dict(_base_.vice_crop, view_groups=[dict(_base_.vice_view_group, size=512)]),
    *_base_.vice_after_crop,
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
test_evaluator = dict(type='UnsupervisedSegMetric', num_classes=27, num_clusters=128,
                      matching='majority')
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=2, max_keep_ckpts=2))
