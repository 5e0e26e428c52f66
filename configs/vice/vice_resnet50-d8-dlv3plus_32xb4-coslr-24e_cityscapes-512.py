# ViCE high-res, Cityscapes (paper Table 1: RN50-D8 + DeepLabV3+, 512 px views, K = 128;
# the paper's state-of-the-art Cityscapes result with overclustering): 24 epochs.
_base_ = [
    '../_base_/models/vice_r50_dlv3plus.py',
    '../_base_/datasets/cityscapes_unlabeled.py',
    '../_base_/datasets/cityscapes27_unsup.py',
    '../_base_/pipelines/vice_views.py',
    '../_base_/schedules/vice_sgd_larc.py',
    '../_base_/default_runtime.py',
]
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='Superpixels', region_size=20, ruler=10., num_iters=5, blur_size=3,
         cache_dir='data/cityscapes/superpixels', img_root='data/cityscapes/leftImg8bit/train'),
    dict(type='CannyCentre'),
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=5, size=512, size_coefficient=(0.5, 2.0),
                           interpolation='bilinear')],
         min_overlap=0., centre_key='crop_centre'),
    dict(type='ViewwisePipeline', group_pipelines=[{{_base_.view_pipeline}}]),
    dict(type='RegionMasking', mode='superpixel', max_coverage=0.25),
    dict(type='MutualRegionFilter'),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
test_evaluator = dict(type='UnsupervisedSegMetric', num_classes=27, num_clusters=128,
                      matching='majority')
max_epochs = 24
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=23, eta_min=1e-6, by_epoch=True, begin=1, end=24,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=2, max_keep_ckpts=2))
