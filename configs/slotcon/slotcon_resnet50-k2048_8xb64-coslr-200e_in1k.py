# SlotCon, ResNet-50, ImageNet-1K, 200 epochs, K = 2048 prototypes (paper Table 3/4).
_base_ = ['./slotcon_resnet50-k2048_8xb64-coslr-100e_in1k.py']
max_epochs = 200
warmup_epochs = 5
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
