# COCO train2017 images, no labels (SlotCon's COCO pre-training set).
_base_ = ['./unlabeled_images.py']
train_dataloader = dict(dataset=dict(data_root='data/coco/', img_glob='train2017/*.jpg'))
