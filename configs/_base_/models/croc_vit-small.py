# CrOC with ViT-S/16 (SPEC §2): student and EMA teacher (0.996 -> 1), each a ViT-S/16
# (drop path 0.1 in the student; off in the teacher) and a DINO head 384-2048-2048-256
# (GELU, no BN) sharing its MLP between the global (65536) and dense (8192) last layers.
# Paper values for COCO (Table: K_start 12, values, lambda_pos 4, tau_t 0.07); the released
# code's defaults are in configs/croc/croc_vit-small-p16_2xb128-coslr-300e_coco_official-defaults.py.
model = dict(
    type='CrOC',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='QKVVisionTransformer',
        arch='deit-small',  # ViT-S: 384 dims, 12 blocks, 6 heads (mmpretrain's 'small' is 768 x 8)
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        out_type='raw',  # [CLS] + patch tokens after the final norm
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                  dict(type='Constant', layer='LayerNorm', val=1., bias=0.)]),
    head=dict(type='DINOHead', in_dim=384, out_dims=(65536, 8192), use_bn=False,
              norm_last_layer=True, nlayers=3, hidden_dim=2048, bottleneck_dim=256),
    clustering=dict(
        type='CrossViewOnlineClustering',
        num_seeds=12,         # K_start (paper; code 5)
        max_eligible=None,    # best cost among K_start .. 2 (paper; code: 4 .. 2)
        min_clusters=2,
        lambda_pos=4.,        # COCO / COCO+ (ImageNet 3)
        sinkhorn_lambda=20.,
        sinkhorn_iters=5,
        uniform_marginals=False,
        marginal_temperature=2.,
        cost_norm='batch',    # min-max over the whole batch (code); 'item': per (image, head)
        seeding='multinomial'),
    token_source='values',    # COCO / COCO+ (ImageNet: keys; code default keys)
    # out_dim of both losses comes from head.out_dims
    global_loss=dict(type='DINOLoss', student_temp=0.1, teacher_temp=0.07, center_momentum=0.9),
    dense_loss=dict(type='DINOLoss', student_temp=0.1, teacher_temp=0.07, center_momentum=0.9),
    dense_loss_weight=1.0,
    teacher_momentum=0.996,
    end_teacher_momentum=1.0,
)
