# BDD100K images, no labels (SlotCon supplementary B.2: pre-training on autonomous
# driving data): the 70k training frames of the 100k-image set,
# data/bdd100k/images/100k/train/*.jpg (1280 x 720 JPEGs).
_base_ = ['./unlabeled_images.py']
train_dataloader = dict(
    dataset=dict(data_root='data/bdd100k/', img_glob='images/100k/train/*.jpg'))
