# SlotCon, ResNet-50, BDD100K (images/100k/train), 800 epochs, K = 64 prototypes:
# the autonomous-driving pre-training of the SlotCon supplementary, section B.2
# ("trained on BDD100K for 800 epochs with 64 prototypes"; Table 2: FCN Cityscapes
# 73.9 mIoU, vs 76.2 for the COCO model). Everything else as the COCO run (the
# supplementary names no other change): two 224 views, LARS lr 1.0 x 512 / 256,
# batch 8 x 64, AMP, SyncBN.
#   tools/dist_train.sh configs/slotcon/slotcon_resnet50-k64_8xb64-coslr-800e_bdd100k.py 8
# Transfer: configs/benchmarks/fcn/fcn_r50-d16_8xb2-90k_cityscapes-769x769_slotcon-bdd100k.py
_base_ = [
    '../_base_/models/slotcon_r50.py',
    '../_base_/datasets/bdd100k_unlabeled.py',
    '../_base_/pipelines/byol_two_view.py',
    '../_base_/schedules/lars_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(grouping=dict(num_prototypes=64))  # K, written once
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))
sync_bn = 'torch'
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=5, max_keep_ckpts=3))
