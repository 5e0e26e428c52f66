# MaskContrast with the released code's unsupervised-saliency defaults (SPEC §4 table):
# 40 epochs, batch 128, queue 256, balanced BCE, views whose foreground fraction lies in
# (1 %, 99 %) (2 tries, then another image). The paper's values:
# maskcontrast_resnet50-d8_1xb64-poly-60e_voc12aug.py
_base_ = ['./maskcontrast_resnet50-d8_1xb64-poly-60e_voc12aug.py']
area_rule = 'official'
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='LoadSaliencyMask', mask_dir={{_base_.saliency_dir}}, invalid='skip', empty='skip'),
    dict(type='MaskAreaRule', crop={{_base_.view_crop}}, rule=area_rule, max_tries=2,
         on_failure='skip'),
    dict(type='ViewwisePipeline', view_pipelines=[{{_base_.simclr_view}}, {{_base_.simclr_view}}]),
    dict(type='PackMultiViewInputs'),
]
batch_size = 128
train_dataloader = dict(batch_size=batch_size, dataset=dict(pipeline=train_pipeline))
model = dict(queue_length=256, saliency_loss=dict(balanced=True))
max_epochs = 40
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=128)
