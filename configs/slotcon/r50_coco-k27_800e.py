# SlotCon, ResNet-50, COCO, 800 epochs with K = 27 prototypes: the model evaluated
# on COCO-Stuff-27 unsupervised segmentation (paper Table 5: 18.26 mIoU / 42.36 pAcc).
#   tools/dist_train.sh configs/slotcon/r50_coco-k27_800e.py 8
#   python tools/test.py configs/slotcon/r50_coco-k27_800e.py work_dirs/.../epoch_800.pth
_base_ = ['./r50_coco_800e.py', '../_base_/datasets/coco_stuff27.py']
num_prototypes = 27
model = dict(
    grouping=dict(num_prototypes=num_prototypes),
    group_loss=dict(num_prototypes=num_prototypes))
