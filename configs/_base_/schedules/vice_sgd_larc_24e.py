# ViCE's optimisation (vice_sgd_larc.py) over 24 epochs: its 1-epoch warm-up, then the
# cosine over the remaining 23 (the Cityscapes configs, configs/vice/*-24e_cityscapes-*.py).
_base_ = ['./vice_sgd_larc.py']
max_epochs = 24
param_scheduler = [
    _base_.param_scheduler[0],  # LinearWarmupLR over the first epoch
    dict(_base_.param_scheduler[1], T_max=max_epochs - 1, end=max_epochs),  # CosineAnnealingLR
]
train_cfg = dict(max_epochs=max_epochs)
