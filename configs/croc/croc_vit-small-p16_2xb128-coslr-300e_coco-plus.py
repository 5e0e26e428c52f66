# CrOC, ViT-S/16, COCO+ (train2017 + unlabeled2017, as configs/_base_/datasets/
# cocoplus_unlabeled.py), 300 epochs (paper Table 1, COCO+ rows); everything else as the
# COCO run.
_base_ = ['./croc_vit-small-p16_2xb128-coslr-300e_coco.py']
train_dataloader = dict(
    dataset=dict(data_root='data/coco/', img_glob=['train2017/*.jpg', 'unlabeled2017/*.jpg']))
