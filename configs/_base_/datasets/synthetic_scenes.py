# Synthetic multi-object scenes generated on the fly (no download): the embedded
# default of the demo and the tests. Train: two views per scene; val/test: the
# scene and its ground-truth semantic map, for unsupervised segmentation.
# The per-view photometric augmentation is SlotCon's (BYOL's), from slotcon_pipeline.py.
_base_ = ['./slotcon_pipeline.py']
num_classes = 8  # 3 stuff + 5 things
scene_size = 128
crop_size = 96
scene_cfg = dict(img_size=scene_size, num_stuff_classes=3, num_thing_classes=5)

train_pipeline = [
    dict(type='TwoViewRandomResizedCrop', size=crop_size, scale=(0.2, 1.0), interpolation='bicubic'),
    dict(type='ViewwisePipeline',
         view_pipelines=[{{_base_.view_pipeline1}}, {{_base_.view_pipeline2}}]),
    dict(type='PackMultiViewInputs'),
]
test_pipeline = [
    dict(type='ValidateSegMap', num_classes=num_classes),  # size and ids of gt_seg_map
    dict(type='mmseg.PackSegInputs', meta_keys=('img_path', 'ori_shape', 'img_shape', 'sample_idx')),
]

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
