# ViCE high-res, COCO (paper Table 1/2: RN50 output stride 8 + DeepLabV3+, 512 px views,
# K = 128, superpixels of 20 px; best COCO C256* model): 32 GPUs x 4 images x M = 5 views.
# ImageNet-initialised in the paper (torchvision weights, set init_cfg below); also trains
# from scratch.
#   tools/dist_train.sh configs/vice/vice_resnet50-d8-dlv3plus_32xb4-coslr-4e_coco-512.py 32
_base_ = [
    '../_base_/models/vice_r50_dlv3plus.py',
    '../_base_/datasets/coco_unlabeled.py',
    '../_base_/datasets/coco_stuff27.py',
    '../_base_/pipelines/vice_train_coco.py',
    '../_base_/schedules/vice_sgd_larc_4e.py',
    '../_base_/default_runtime.py',
]
view_size = 512
train_pipeline = [  # vice_train_coco.py's steps with 512 px views
    *_base_.vice_load,
    dict(_base_.vice_crop, view_groups=[dict(_base_.vice_view_group, size=view_size)]),
    *_base_.vice_after_crop,
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
# K = 128 prototypes: evaluate by many-to-one matching of the 128 concepts to 27 classes
test_evaluator = dict(type='UnsupervisedSegMetric', num_classes=27, num_clusters=128,
                      matching='majority')
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=2))
