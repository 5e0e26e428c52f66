# SlotCon, ResNet-50, COCO, 800 epochs with K = 27 prototypes: the model evaluated
# on COCO-Stuff-27 unsupervised segmentation (paper Table 5: 18.26 mIoU / 42.36 pAcc).
_base_ = ['./r50_coco_800e.py']
num_prototypes = 27
model = dict(
    grouping=dict(num_prototypes=num_prototypes),
    group_loss=dict(num_prototypes=num_prototypes))
