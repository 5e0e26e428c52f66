# DINO / CrOC optimisation (SPEC §2): AdamW, lr = 5e-4 x total_batch / 256 after a 10-epoch
# linear warm-up, then per-iteration cosine to 1e-6; weight decay 0.04 -> 0.4 (cosine, per
# iteration) on every parameter but biases and norms (1-D); gradient clipping at 3.0 per
# parameter (DINO's clip_gradients); fp16 AMP.
# The teacher temperature warm-up and the frozen last layer are hooks (custom_hooks).
# Override `max_epochs`, `total_batch_size` and the schedulers' ends in the child config.
max_epochs = 300
warmup_epochs = 10
base_lr = 5e-4  # per 256 images
total_batch_size = 256
optim_wrapper = dict(
    # mmengine's AmpOptimWrapper + DINO's per-parameter clipping (grad_clip.py)
    type='PerParamClipAmpOptimWrapper',
    dtype='float16',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=base_lr * total_batch_size / 256, betas=(0.9, 0.999),
                   weight_decay=0.04),
    # DINO's get_params_groups: no decay for biases and norm weights (all 1-D tensors)
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.),
    # DINO's / the released code's clip_gradients: every parameter's own gradient norm <= 3
    clip_grad=dict(max_norm=3.0, per_parameter=True))
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    # 0.04 -> 0.4: eta_min as a ratio (x10) of each group's initial decay, so the groups
    # without decay stay at 0
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=total_batch_size)
