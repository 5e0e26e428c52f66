# Former name of slotcon_resnet50_8xb64-coslr-800e_coco.py, kept working for one release
# (e.g. tools/dist_train.sh configs/slotcon/r50_coco_800e.py 8).
_base_ = ['./slotcon_resnet50_8xb64-coslr-800e_coco.py']
