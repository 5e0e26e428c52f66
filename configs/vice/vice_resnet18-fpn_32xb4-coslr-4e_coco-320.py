# ViCE low-res, COCO (paper Table 1: RN18 + FPN, 320 px views, K = 27; COCO-Stuff-27
# C27 11.40 mIoU, linear 25.49): 32 GPUs x 4 images x M = 5 views, 4 epochs.
#   tools/dist_train.sh configs/vice/vice_resnet18-fpn_32xb4-coslr-4e_coco-320.py 32
# Precompute the superpixels first (see docs/methods/vice.md):
#   python tools/dataset_converters/make_superpixels.py data/coco/train2017 data/coco/superpixels
_base_ = [
    '../_base_/models/vice_r18_fpn.py',
    '../_base_/datasets/coco_unlabeled.py',
    '../_base_/datasets/coco_stuff27.py',
    '../_base_/pipelines/vice_views.py',
    '../_base_/schedules/vice_sgd_larc.py',
    '../_base_/default_runtime.py',
]
view_size = 320
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='Superpixels', region_size=20, ruler=10., num_iters=5, blur_size=3,
         cache_dir='data/coco/superpixels', img_root='data/coco/train2017'),
    dict(type='CannyCentre'),
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=5, size=view_size, size_coefficient=(0.5, 2.0),
                           interpolation='bilinear')],
         min_overlap=0., centre_key='crop_centre'),
    dict(type='ViewwisePipeline', group_pipelines=[{{_base_.view_pipeline}}]),
    dict(type='RegionMasking', mode='superpixel', max_coverage=0.25),
    dict(type='MutualRegionFilter'),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
model = dict(prototypes=dict(num_prototypes=27))  # K = 27 for the COCO-Stuff FPN config
max_epochs = 4
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=3, eta_min=1e-6, by_epoch=True, begin=1, end=4,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=2))
