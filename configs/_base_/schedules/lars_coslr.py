# SlotCon optimisation (SPEC §1): LARS (eta 1e-3, momentum 0.9, 1-D params
# excluded from decay and adaptation), lr = 1.0 x total_batch / 256, wd 1e-5,
# 5-epoch linear warm-up from lr/100, then per-iteration cosine to 1e-6.
# Override `max_epochs` and the scheduler's `T_max`/`end` in the child config.
max_epochs = 800
warmup_epochs = 5
base_lr = 1.0  # per 256 images
total_batch_size = 512
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='LARSOptimWrapperConstructor',
    optimizer=dict(type='LARS', lr=base_lr * total_batch_size / 256, momentum=0.9,
                   weight_decay=1e-5, eta=0.001),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=total_batch_size)
