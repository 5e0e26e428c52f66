# ViCE low-res model (SPEC §3): ResNet-18 (all four stages) + FPN + mmseg's FPNHead whose
# 1x1 classifier is the D = 128 embedding projection, L2-normalised per pixel; K = 128
# prototypes; SwAV over superpixel region means (tau 0.1, Sinkhorn eps 0.05 x 3, queue 5000
# from iteration 313, prototypes frozen for 313 iterations).
embed_dim = 128
num_prototypes = 128
model = dict(
    type='ViCE',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN')),
    neck=dict(type='mmseg.FPN', in_channels=[64, 128, 256, 512], out_channels=128, num_outs=4),
    decode_head=dict(
        type='mmseg.FPNHead',
        in_channels=[128, 128, 128, 128],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=128,
        dropout_ratio=0.,
        num_classes=embed_dim,  # the embedding projection: D outputs
        norm_cfg=dict(type='BN'),
        align_corners=False),
    prototypes=dict(type='NormalizedPrototypes', num_prototypes=num_prototypes, dim=embed_dim),
    swav_loss=dict(type='SwAVRegionLoss', temperature=0.1, epsilon=0.05, num_iters=3,
                   queue_length=5000, queue_start_iter=313, freeze_prototypes_iters=313),
    upsample_embeddings=True,
)
