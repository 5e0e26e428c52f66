# Cityscapes leftImg8bit/train images, no labels (ViCE's Cityscapes pre-training set).
_base_ = ['./unlabeled_images.py']
train_dataloader = dict(
    dataset=dict(data_root='data/cityscapes/', img_glob='leftImg8bit/train/*/*.png'))
