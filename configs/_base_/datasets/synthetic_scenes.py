# Synthetic multi-object scenes generated on the fly (no download): the embedded
# default of the demos and the tests. Train: the scenes (with their ground-truth
# map as a seg_field, cut with each view); val/test: the scene and its ground-truth
# semantic map, for unsupervised segmentation. No training pipeline: the method's
# demo config sets train_dataloader.dataset.pipeline.
num_classes = 8  # 3 stuff + 5 things
scene_size = 128
scene_cfg = dict(img_size=scene_size, num_stuff_classes=3, num_thing_classes=5)

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
    dataset=dict(type='SyntheticSceneDataset', num_samples=4096, seed=0, pipeline=[],
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
