# A loader of unlabeled images (COCO train2017 by default). No pipeline: the method
# config sets train_dataloader.dataset.pipeline (e.g. from _base_/pipelines/).
# coco_unlabeled.py, cocoplus_unlabeled.py and imagenet_unlabeled.py only change where
# the images are.
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='UnlabeledImageDataset',
        data_root='data/coco/',
        img_glob='train2017/*.jpg',
        pipeline=[]),
)
