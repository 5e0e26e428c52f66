# ViCE high-res model (SPEC §3): ResNet-50 at output stride 8 (dilated stages 3-4) + mmseg's
# DepthwiseSeparableASPPHead (DeepLabV3+, low-level features from C2) whose 1x1 classifier is
# the D = 128 embedding projection, L2-normalised per pixel and upsampled to the view size;
# K = 128 prototypes; SwAV over superpixel region means.
embed_dim = 128
num_prototypes = 128
model = dict(
    type='ViCE',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3), strides=(1, 2, 1, 1),
                  dilations=(1, 1, 2, 4), norm_cfg=dict(type='BN')),
    decode_head=dict(
        type='mmseg.DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.,
        num_classes=embed_dim,
        norm_cfg=dict(type='BN'),
        align_corners=False),
    prototypes=dict(type='NormalizedPrototypes', num_prototypes=num_prototypes, dim=embed_dim),
    swav_loss=dict(type='SwAVRegionLoss', temperature=0.1, epsilon=0.05, num_iters=3,
                   queue_length=5000, queue_start_iter=313, freeze_prototypes_iters=313),
    upsample_embeddings=True,
)
