# FCN-16s of MoCo's segmentation transfer, used by SlotCon for VOC and Cityscapes
# (SlotCon supplementary A.2.2): ResNet-50 whose conv5 3x3 convs have dilation 2 and
# stride 1 (output stride 16), then two 3x3 convs of 256 channels with dilation 6,
# BN and ReLU, then a 1x1 classifier. SyncBN throughout, every layer fine-tuned.
#
# Plain mmseg `ResNet` (torchvision stem: one 7x7 conv), NOT mmseg's usual
# `ResNetV1c` (three 3x3 stem convs): an mmdense backbone has a torchvision stem and
# would silently leave a deep stem randomly initialised. `pretrained=None`; the
# leaf configs set backbone.init_cfg.
norm_cfg = dict(type='SyncBN', requires_grad=True)
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
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=False,  # every conv5 block dilated by 2, as in the paper
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch'),
    decode_head=dict(
        type='FCNHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        num_convs=2,
        kernel_size=3,
        dilation=6,
        concat_input=False,
        dropout_ratio=0.0,  # the protocol has none
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        # mean over the labelled pixels, as PyTorch's cross_entropy(ignore_index=255)
        # of the protocols' reference code (mmseg's default also counts ignored pixels)
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)),
    auxiliary_head=None,
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
