# MaskContrast (SPEC §4): DeepLab-v3 (mmseg ASPP) on a dilated ResNet-50 at output
# stride 8, decoder 256, one 1x1 head to a 32-d L2-normalised embedding + a saliency
# logit; momentum key network 0.999 (the shared EMA teacher); queue of key prototypes.
# Backbone: from scratch by default; from an mmdense checkpoint (e.g. SlotCon's teacher,
# prefix='teacher.module.backbone.') or an mmpretrain one (prefix='backbone.') with
#   model.backbone.init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix=...)
model = dict(
    type='MaskContrast',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),  # output stride 8
        out_indices=(3, ),
        norm_cfg=dict(type='BN'),
        zero_init_residual=True),
    neck=dict(type='ASPPNeck', in_channels=2048, channels=256, dilations=(1, 12, 24, 36),
              norm_cfg=dict(type='BN', requires_grad=True)),
    head=dict(type='EmbeddingSaliencyHead', in_channels=256, embed_dim=32),
    contrast_loss=dict(type='PixelPrototypeContrastLoss', temperature=0.5),
    # released code: balanced BCE; paper: plain BCE (balanced=False)
    saliency_loss=dict(type='SaliencyBCELoss', balanced=True),
    queue_length=128,
    max_objects=1,  # one salient object per image (the paper)
    mask_key='gt_saliency',
    upsample=True,  # embeddings / losses at the view's resolution (released code)
    key_momentum=0.999,
    predict_with='student',
)
