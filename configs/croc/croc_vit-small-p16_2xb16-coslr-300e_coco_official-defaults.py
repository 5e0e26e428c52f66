# CrOC with the released code's argparse defaults (stegmuel/CrOC main_croc.py), on COCO with
# 2 GPUs x 16 images (batch_size_per_gpu 16). Differences from the paper's COCO config:
#   K_start 5 (n_tokens), best cost among K = 4, 3, 2 only (n_centroids_max 4), keys,
#   tau_t 0.04 for both heads without warm-up, global crop scale (0.25, 1).
_base_ = ['./croc_vit-small-p16_2xb128-coslr-300e_coco.py']
global_crops_scale = (0.25, 1.0)
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=2, size=224, scale=global_crops_scale,
                           ratio=(3. / 4., 4. / 3.), interpolation='bicubic', flip_prob=0.5,
                           overlap=False)],
         antialias=True),
    dict(type='ViewwisePipeline', view_pipelines=[{{_base_.view_pipeline1}},
                                                   {{_base_.view_pipeline2}}]),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
model = dict(
    token_source='keys',
    clustering=dict(num_seeds=5, max_eligible=4, lambda_pos=4.),
    global_loss=dict(teacher_temp=0.04),
    dense_loss=dict(teacher_temp=0.04))
total_batch_size = 32
base_lr = 5e-4  # per 256 images (the schedule base's)
optim_wrapper = dict(optimizer=dict(lr=base_lr * total_batch_size / 256))
auto_scale_lr = dict(base_batch_size=total_batch_size)
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='BadSampleReportHook'),
    dict(type='TrainDataCheckHook'),
    dict(type='FreezeLastLayerHook', frozen=1, by_epoch=True),  # no temperature warm-up
]
