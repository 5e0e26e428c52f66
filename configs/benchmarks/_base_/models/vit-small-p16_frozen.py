# A frozen ViT-S/16 for the linear segmentation probes (CrOC Table 1 protocol): the last-layer
# patch tokens (28 x 28 at 448 px, after the final norm; [CLS] dropped). mmpretrain's
# VisionTransformer (as CrOC's QKVVisionTransformer, whose key names it exports); its position
# embeddings stay at 224 px (the checkpoint's) and are resized bicubically to the input grid.
# A probe config puts it in place of the ResNet of the R50 probe it inherits:
#   model = dict(backbone={{_base_.vit_small_p16_frozen}}, decode_head=dict(in_channels=384, channels=384))
vit_small_p16_checkpoint = 'work_dirs/croc_vit-small-p16_2xb128-coslr-300e_coco/backbone.pth'
vit_small_p16_frozen = dict(
    _delete_=True,
    # mmpretrain's VisionTransformer, keeping a strictly loaded position embedding (full
    # import path: the mmseg scope does not resolve an 'mmdense.' prefix)
    type='mmdense.models.backbones.vit_qkv.QKVVisionTransformer',
    arch='deit-small',  # ViT-S: 384 dims, 12 blocks, 6 heads (mmpretrain's 'small' is 768 x 8)
    img_size=224,
    patch_size=16,
    out_indices=-1,
    final_norm=True,
    out_type='featmap',
    with_cls_token=True,
    interpolate_mode='bicubic',
    frozen_stages=12,  # patch embedding, position embedding, all 12 blocks, final norm
    init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=vit_small_p16_checkpoint))
