# ViCE high-res with the released code's defaults where it differs from the paper (SPEC §3):
# 400 px views, resize coefficient beta in [0.5, 1.5], one rectangle mask of at most
# 0.25 x the view size filled with U(-1, 1) noise after normalisation, 12 epochs.
# (The released DeepLabV3+ configs pool each region by its max-score pixel plus a coherence
# loss; mmdense pools region means, the paper's rule, in every config.)
_base_ = ['./vice_resnet50-d8-dlv3plus_32xb4-coslr-4e_coco-512.py']
view_size = 400
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='Superpixels', region_size=20, ruler=10., num_iters=5, blur_size=3,
         cache_dir='data/coco/superpixels', img_root='data/coco/train2017'),
    dict(type='CannyCentre'),
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=5, size=view_size, size_coefficient=(0.5, 1.5),
                           interpolation='bilinear')],
         min_overlap=0., centre_key='crop_centre'),
    dict(type='ViewwisePipeline', group_pipelines=[{{_base_.view_pipeline}}]),
    dict(type='RegionMasking', mode='rectangle', max_coverage=0.25),
    dict(type='MutualRegionFilter'),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
max_epochs = 12
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=11, eta_min=1e-6, by_epoch=True, begin=1, end=12,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
