# COCO+ = COCO train2017 + unlabeled2017 (SlotCon Table 1), as a ConcatDataset.
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
        type='ConcatDataset',
        datasets=[
            dict(type='UnlabeledImageDataset', data_root=data_root, img_glob='train2017/*.jpg',
                 pipeline={{_base_.train_pipeline}}),
            dict(type='UnlabeledImageDataset', data_root=data_root, img_glob='unlabeled2017/*.jpg',
                 pipeline={{_base_.train_pipeline}}),
        ]),
)
