# ViCE low-res, COCO (paper Table 1: RN18 + FPN, 320 px views, K = 27; COCO-Stuff-27
# C27 11.40 mIoU, linear 25.49): 32 GPUs x 4 images x M = 5 views, 4 epochs.
#   tools/dist_train.sh configs/vice/vice_resnet18-fpn_32xb4-coslr-4e_coco-320.py 32
# Precompute the superpixels first (see docs/methods/vice.md):
#   python tools/dataset_converters/make_superpixels.py data/coco/train2017 data/coco/superpixels
_base_ = [
    '../_base_/models/vice_r18_fpn.py',
    '../_base_/datasets/coco_unlabeled.py',
    '../_base_/datasets/coco_stuff27.py',
    '../_base_/pipelines/vice_train_coco.py',  # 320 px views
    '../_base_/schedules/vice_sgd_larc_4e.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline={{_base_.train_pipeline}}))
model = dict(prototypes=dict(num_prototypes=27))  # K = 27 for the COCO-Stuff FPN config
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=2))
