# ImageNet-1K train images (labels unused): train/<wnid>/*.JPEG.
_base_ = ['./unlabeled_images.py']
train_dataloader = dict(dataset=dict(data_root='data/imagenet/', img_glob='train/*/*.JPEG'))
