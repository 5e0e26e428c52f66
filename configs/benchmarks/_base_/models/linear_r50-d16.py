# Linear segmentation probe: a frozen ResNet-50 (stem and all four stages frozen, BN
# in eval mode) and ONE 1x1 conv classifier on its last feature map (mmseg FCNHead
# with num_convs=0, concat_input=False, no dropout: its only layer is `conv_seg`).
# conv5 is dilated (stride 1, dilation 2: output stride 16, a 28 x 28 map at 448 px,
# the token grid of the ViT-S/16 results the CrOC paper compares with). Logits are
# upsampled bilinearly to the label size by mmseg (training loss and inference).
# Plain `ResNet` (torchvision stem), `pretrained=None`: the leaf configs set init_cfg.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=False,
        frozen_stages=4,  # stem + layer1..4: no parameter trains
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,  # running statistics stay the pre-trained ones
        style='pytorch'),
    decode_head=dict(
        type='FCNHead',
        in_channels=2048,
        in_index=0,
        channels=2048,
        num_convs=0,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=21,
        norm_cfg=None,
        align_corners=False,
        # mean over the labelled pixels, as PyTorch's cross_entropy(ignore_index=255)
        # of the protocols' reference code (mmseg's default also counts ignored pixels)
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)),
    auxiliary_head=None,
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
