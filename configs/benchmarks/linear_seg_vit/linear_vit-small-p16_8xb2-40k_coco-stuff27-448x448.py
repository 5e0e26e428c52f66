# Linear segmentation probe with a frozen ViT-S/16 (CrOC Table 1 protocol): the data,
# schedule and 1x1-conv classifier of ../linear_seg/linear_r50-d16_8xb2-40k_coco-stuff27-448x448.py,
# on the last-layer patch tokens (28 x 28 at 448 px, after the final norm; [CLS] dropped).
# The backbone is mmpretrain's VisionTransformer (as CrOC's QKVVisionTransformer, whose key
# names it exports); its position embeddings stay at 224 px (the checkpoint's) and are resized
# bicubically to the input grid at run time.
#
#   bash tools/dist_train.sh configs/benchmarks/linear_seg_vit/linear_vit-small-p16_8xb2-40k_coco-stuff27-448x448.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/croc_vit-small-p16_2xb128-coslr-300e_coco/backbone.pth
_base_ = ['../linear_seg/linear_r50-d16_8xb2-40k_coco-stuff27-448x448.py']

pretrained = 'work_dirs/croc_vit-small-p16_2xb128-coslr-300e_coco/backbone.pth'
model = dict(
    backbone=dict(
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
        init_cfg=dict(type='mmdense.StrictPretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=384, channels=384))
