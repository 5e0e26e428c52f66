# COCO+ = COCO train2017 + unlabeled2017 (SlotCon Table 1): one dataset, two globs.
_base_ = ['./unlabeled_images.py']
train_dataloader = dict(
    dataset=dict(data_root='data/coco/', img_glob=['train2017/*.jpg', 'unlabeled2017/*.jpg']))
