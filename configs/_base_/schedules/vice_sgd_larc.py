# ViCE optimisation (SPEC §3): SGD + LARC (the SwAV recipe: trust ratio
# eta |p| / (|g| + wd |p|), eta 1e-3, not clipped), momentum 0.9, weight decay 1e-6, 1-D
# parameters excluded from decay and adaptation; base lr 0.04 per 4-GPU node of 4 images each
# (16 images), linear scaling; linear warm-up then per-iteration cosine.
# mmpretrain's LARS uses LARC's unclipped trust ratio; it folds the lr into the momentum buffer
# (differs from SGD + LARC only while the lr changes).
max_epochs = 12
warmup_epochs = 1
base_lr = 0.04  # per 16 images
total_batch_size = 128  # 32 GPUs x 4 images (paper)
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LARSOptimWrapperConstructor',
    optimizer=dict(type='LARS', lr=base_lr * total_batch_size / 16, momentum=0.9,
                   weight_decay=1e-6, eta=0.001),
)
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=total_batch_size)
