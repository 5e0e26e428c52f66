# MaskContrast as the paper describes it (SPEC §4): VOC train_aug with unsupervised
# saliency masks, 60 epochs, batch 64, queue 128, plain BCE, each view keeping >= 10 % of
# the object's area, DeepLab-v3 on a dilated ResNet-50 (OS 8), SGD 0.004 poly.
# The released code's choices: maskcontrast_resnet50-d8_1xb128-poly-40e_voc12aug_official-defaults.py
# Backbone: from scratch here; the paper starts from MoCo v2 / supervised ImageNet:
#   --cfg-options model.backbone.init_cfg.type=Pretrained model.backbone.init_cfg.checkpoint=CKPT \
#                 model.backbone.init_cfg.prefix=backbone.        (mmpretrain checkpoint)
#   or prefix=teacher.module.backbone.                            (an mmdense SlotCon checkpoint)
_base_ = [
    '../_base_/models/maskcontrast_r50-d8.py',
    '../_base_/datasets/voc12aug_saliency.py',
    '../_base_/pipelines/maskcontrast_views.py',
    '../_base_/default_runtime.py',
]
area_rule = 'paper'
saliency_dir = {{_base_.saliency_dir}}
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='LoadSaliencyMask', mask_dir=saliency_dir, invalid='skip', empty='skip'),
    dict(type='MaskAreaRule', crop={{_base_.view_crop}}, rule=area_rule, max_tries=2,
         on_failure='skip'),
    dict(type='ViewwisePipeline', view_pipelines=[{{_base_.simclr_view}}, {{_base_.simclr_view}}]),
    dict(type='PackMultiViewInputs'),
]
batch_size = 64
train_dataloader = dict(batch_size=batch_size, dataset=dict(pipeline=train_pipeline))
model = dict(
    queue_length=128,
    saliency_loss=dict(balanced=False),  # paper: BCE
)
max_epochs = 60
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.004, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=5, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=64)
