# COCO+ = COCO train2017 + unlabeled2017 (SlotCon Table 1), as a ConcatDataset.
_base_ = ['./unlabeled_images.py']
data_root = 'data/coco/'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type='UnlabeledImageDataset', data_root=data_root, img_glob='train2017/*.jpg',
                 pipeline={{_base_.train_dataloader.dataset.pipeline}}),
            dict(type='UnlabeledImageDataset', data_root=data_root, img_glob='unlabeled2017/*.jpg',
                 pipeline={{_base_.train_dataloader.dataset.pipeline}}),
        ]))
