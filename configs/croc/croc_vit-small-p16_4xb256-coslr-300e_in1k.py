# CrOC, ViT-S/16, ImageNet-1k train (as configs/_base_/datasets/imagenet_unlabeled.py),
# 300 epochs: the paper's ImageNet run clusters the keys with lambda_pos 3; batch 1024
# (the paper: 4 GPUs; here 4 x 256), AdamW lr 5e-4 x 1024 / 256 = 2e-3.
_base_ = ['./croc_vit-small-p16_2xb128-coslr-300e_coco.py']
train_dataloader = dict(batch_size=256,
                        dataset=dict(data_root='data/imagenet/', img_glob='train/*/*.JPEG'))
model = dict(token_source='keys', clustering=dict(lambda_pos=3.))
total_batch_size = 1024
base_lr = 5e-4  # per 256 images (the schedule base's)
optim_wrapper = dict(optimizer=dict(lr=base_lr * total_batch_size / 256))
auto_scale_lr = dict(base_batch_size=total_batch_size)
