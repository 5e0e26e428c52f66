# Former name of slotcon_resnet50-k2048_8xb64-coslr-200e_in1k.py, kept working for one release
# (e.g. tools/dist_train.sh configs/slotcon/r50_in1k_200e.py 8).
_base_ = ['./slotcon_resnet50-k2048_8xb64-coslr-200e_in1k.py']
