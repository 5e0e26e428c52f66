# MaskContrast CPU demo: a narrow dilated ResNet-18 (output stride 8) + mmseg ASPP,
# trained for a few minutes on synthetic scenes on 2 CPU cores, with the planted objects
# as saliency masks (the generator emits them: object_masks=True). Evaluated by k-means
# over mean object embeddings with the model's saliency head as background (the paper's
# protocol; stuff classes = background), random init vs trained. The scenes have 12 thing
# classes (synthetic_scenes-12things.py): every other object is a negative of the contrast,
# and with 5 classes one negative in five would be of the positive's own class (VOC: 20).
#   python tools/demo.py configs/maskcontrast/maskcontrast_resnet18-narrow-d8_1xb16-300iters_synthetic.py \
#       --work-dir work_dirs/maskcontrast_demo
_base_ = [
    '../_base_/models/maskcontrast_r50-d8.py',
    '../_base_/datasets/synthetic_scenes-12things.py',
    '../_base_/pipelines/maskcontrast_views.py',
    '../_base_/schedules/cpu_demo_runtime.py',
]
crop_size = 64
num_stuff = 3  # ids 0..2 of the synthetic scenes: the background class of the evaluation
train_pipeline = [
    # gt_saliency (the planted objects, a seg_field) is cut with each view; 15-45 % of the
    # 128-px scene resized to 64 px: textures near test-time scale (on 5-class scenes: 0.3-1.0
    # gave 1.44x, this 1.57x)
    dict(type='MaskAreaRule',
         crop=dict(type='MultiViewRandomResizedCrop',
                   view_groups=[dict(num_views=2, size=crop_size, scale=(0.15, 0.45),
                                     interpolation='bilinear', overlap=False)]),
         rule={{_base_.area_rule}}, max_tries=2, on_failure='keep'),
    dict(type='ViewwisePipeline',
         view_pipelines=[{{_base_.simclr_view}}, {{_base_.simclr_view}}]),
    dict(type='PackMultiViewInputs'),
]
batch_size = 16
train_dataloader = dict(batch_size=batch_size,
                        dataset=dict(pipeline=train_pipeline, object_masks=True))
test_pipeline = [
    dict(type='ValidateSegMap', num_classes={{_base_.num_classes}}),
    dict(type='mmseg.PackSegInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'sample_idx', 'gt_saliency')),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, object_masks=True))
test_dataloader = val_dataloader
# objects: 12 thing classes + background (the 3 stuff classes), K = 13, Hungarian, 5 seeds
num_things = _base_.scene_cfg['num_thing_classes']
val_evaluator = dict(type='ObjectKMeansMetric', num_classes=num_things + 1,
                     background_classes=list(range(num_stuff)), saliency='model',
                     split_components=True, pca_dim=32, whiten=True, seeds=5)
test_evaluator = val_evaluator

model = dict(
    backbone=dict(depth=18, stem_channels=32, base_channels=32, strides=(1, 2, 1, 1),
                  dilations=(1, 1, 2, 4), out_indices=(3, )),
    neck=dict(in_channels=256, channels=64, dilations=(1, 2, 4, 6)),
    head=dict(in_channels=64, embed_dim=32),
    queue_length=128,
    max_objects=8,  # the planted objects (2-5 a scene) are separate prototypes
    upsample=False,  # losses at the decoder's 8 x 8 (the masks resized): ~3x cheaper on CPU
    # 300 steps: a key network that follows (0.99; the paper's 0.999 keeps it ~75 % random
    # init here) and a sharper contrast (T = 0.2; at 0.5 the loss cannot fall below ~3)
    key_momentum=0.99,
    contrast_loss=dict(temperature=0.2),
)

max_iters = 300
warmup_iters = 30
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LARSOptimWrapperConstructor',
    # from scratch in 300 steps: LARS with a large absolute lr, as the SlotCon demo (SGD lr
    # 0.05 left the embeddings almost where they started: contrast loss 5.09 -> 4.91)
    optimizer=dict(type='BarlowLARS', lr=2.0, momentum=0.9, weight_decay=1e-5, eta=0.001),
)
param_scheduler = [
    dict(type='LinearWarmupLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=1e-6, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
# val / test loops, iteration-based logs and checkpoints (2 kept), gloo: cpu_demo_runtime.py
default_hooks = dict(checkpoint=dict(interval=200))
