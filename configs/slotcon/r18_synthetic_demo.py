# Former name of slotcon_resnet18-narrow_1xb32-400iters_synthetic.py, kept working for one release
# (e.g. tools/dist_train.sh configs/slotcon/r18_synthetic_demo.py 8).
_base_ = ['./slotcon_resnet18-narrow_1xb32-400iters_synthetic.py']
