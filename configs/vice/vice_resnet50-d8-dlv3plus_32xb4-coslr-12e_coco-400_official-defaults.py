# ViCE high-res with the released code's defaults where it differs from the paper (SPEC §3):
# 400 px views, resize coefficient beta in [0.5, 1.5], one rectangle mask of at most
# 0.25 x the view size filled with U(-1, 1) noise after normalisation, 12 epochs.
# (The released DeepLabV3+ configs pool each region by its max-score pixel plus a coherence
# loss; mmdense pools region means, the paper's rule, in every config.)
_base_ = ['./vice_resnet50-d8-dlv3plus_32xb4-coslr-4e_coco-512.py']
view_size = 400
train_pipeline = [  # vice_train_coco.py's steps with the three differences
    *_base_.vice_load,
    dict(_base_.vice_crop, view_groups=[dict(_base_.vice_view_group, size=view_size,
                                             size_coefficient=(0.5, 1.5))]),
    _base_.vice_after_crop[0],  # ViewwisePipeline
    dict(type='RegionMasking', mode='rectangle', max_coverage=0.25),
    *_base_.vice_after_crop[2:],  # MutualRegionFilter, PackMultiViewInputs
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
max_epochs = 12
param_scheduler = [  # the 4-epoch schedule's warm-up and cosine, stretched to 12 epochs
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=max_epochs - 1, end=max_epochs),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
