# Synthetic multi-object scenes generated on the fly (no download): the embedded
# default of the demo and the tests. Train: two views per scene; val/test: the
# scene and its ground-truth semantic map, for unsupervised segmentation.
num_classes = 8  # 3 stuff + 5 things
scene_size = 128
crop_size = 96
scene_cfg = dict(img_size=scene_size, num_stuff_classes=3, num_thing_classes=5)

view_pipeline1 = [
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.0),
    dict(type='Solarize', thr=128, prob=0.0),
]
view_pipeline2 = [
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
train_pipeline = [
    dict(type='TwoViewRandomResizedCrop', size=crop_size, scale=(0.2, 1.0), interpolation='bicubic'),
    dict(type='ViewwisePipeline', view_pipelines=[view_pipeline1, view_pipeline2]),
    dict(type='PackMultiViewInputs'),
]
test_pipeline = [dict(type='mmseg.PackSegInputs', meta_keys=('img_path', 'ori_shape', 'img_shape', 'sample_idx'))]

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='SyntheticSceneDataset', num_samples=4096, seed=0, pipeline=train_pipeline,
                 **scene_cfg),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    # a different seed: held-out scenes
    dataset=dict(type='SyntheticSceneDataset', num_samples=256, seed=1000, pipeline=test_pipeline,
                 test_mode=True, **scene_cfg),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='UnsupervisedSegMetric', num_classes=num_classes)
test_evaluator = val_evaluator
