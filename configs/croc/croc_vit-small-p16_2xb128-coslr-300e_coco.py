# CrOC, ViT-S/16, COCO train2017, 300 epochs: the paper's COCO run (Tables 1 / 3:
# linear PVOC12 54.5, CC-Th. 55.6, CC-St. 49.7; k-means PVOC12 16.1, CC-Th. 17.2, CC-St. 20.0).
#   bash tools/dist_train.sh configs/croc/croc_vit-small-p16_2xb128-coslr-300e_coco.py 2
# 2 GPUs x 128 images = 256 per step, AdamW lr 5e-4 x 256 / 256, fp16 AMP.
# Paper values: K_start 12 (best cost among 12 .. 2), values, lambda_pos 4, tau_t 0.07 after
# DINO's 30-epoch warm-up from 0.04 (see ..._official-defaults.py for the released code's).
_base_ = [
    '../_base_/models/croc_vit-small.py',
    '../_base_/datasets/coco_unlabeled.py',
    '../_base_/pipelines/dino_two_global_views.py',
    '../_base_/schedules/adamw_dino_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline={{_base_.train_pipeline}}))
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='BadSampleReportHook'),
    dict(type='TrainDataCheckHook'),
    # tau_t: 0.04 -> the losses' teacher_temp (0.07) over 30 epochs (DINO's linspace per epoch)
    dict(type='TeacherTempWarmupHook', module_names=('global_loss', 'dense_loss'),
         warmup_temp=0.04, warmup=30, by_epoch=True),
    # the heads' last layers get no update during the first epoch
    dict(type='FreezeLastLayerHook', frozen=1, by_epoch=True),
]
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3))
