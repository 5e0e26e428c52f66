# COCO train2017 images, no labels (SlotCon's COCO pre-training set).
_base_ = ['./slotcon_pipeline.py']
data_root = 'data/coco/'
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
        data_root=data_root,
        img_glob='train2017/*.jpg',
        pipeline={{_base_.train_pipeline}}),
)
