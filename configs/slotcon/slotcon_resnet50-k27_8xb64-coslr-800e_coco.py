# SlotCon, ResNet-50, COCO, 800 epochs with K = 27 prototypes: the model evaluated
# on COCO-Stuff-27 unsupervised segmentation (paper Table 5: 18.26 mIoU / 42.36 pAcc).
#   tools/dist_train.sh configs/slotcon/slotcon_resnet50-k27_8xb64-coslr-800e_coco.py 8
#   python tools/test.py configs/slotcon/slotcon_resnet50-k27_8xb64-coslr-800e_coco.py work_dirs/.../epoch_800.pth
_base_ = ['./slotcon_resnet50_8xb64-coslr-800e_coco.py', '../_base_/datasets/coco_stuff27.py']
model = dict(grouping=dict(num_prototypes=27))  # K, written once
