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
    # The official SlotCon LARS (Barlow Twins style, mmdense BarlowLARS): d = g + wd p,
    # trust ratio eta |p| / |d|, lr-free momentum buffer, lr applied last; no host syncs.
    # mmpretrain's variant (trust ratio eta |p| / (|g| + wd |p|), lr folded into the momentum,
    # two .item() syncs per parameter and step) takes the same arguments: switch with
    #   optim_wrapper = dict(optimizer=dict(type='LARS'))
    # in a child config (not on resume: the momentum buffers mean different things).
    optimizer=dict(type='BarlowLARS', lr=base_lr * total_batch_size / 256, momentum=0.9,
                   weight_decay=1e-5, eta=0.001),
)
# LinearWarmupLR reaches the full lr exactly at the first cosine iteration, as the official
# warm-up (lr_i = lr * (0.01 + 0.99 i / W), i = 0..W); mmengine's LinearLR over the same range
# would reach it one iteration early (slope 0.99 / (W - 1)).
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=total_batch_size)
