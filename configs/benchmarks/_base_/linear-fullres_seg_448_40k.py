# ViCE-style linear segmentation probe: the shared probe protocol of
# ./linear_seg_448_40k.py (frozen ResNet-50, data, schedule) with the classifier
# applied at full resolution: the frozen dense output (C5, output stride 16) is
# upsampled bilinearly to the input resolution (448 x 448 crops in training, the whole
# resized image at test time) and then classified by ONE 1x1 conv
# (mmdense UpsampledLinearHead, mmdense/models/heads/linear_probe_head.py); the loss
# reads these full-resolution logits. mmseg's default probe (FCNHead, num_convs=0)
# classifies at feature resolution and resizes the logits instead: for a linear probe
# without normalisation both orders give the same logits (bilinear upsampling and a 1x1
# conv commute); set `normalize=True` for models whose dense output are unit-length
# embeddings (ViCE), where the order matters. Memory: 2048 x 448 x 448 float32 features
# per training image (1.6 GB), kept for the backward pass of the conv.
# Leaf configs set `pretrained`, num_classes and the data, as the other probes.
_base_ = ['./linear_seg_448_40k.py']
custom_imports = dict(
    imports=['mmdense', 'mmdense.safety', 'mmdense.models.heads.linear_probe_head',
             'mmdense.models.utils.strict_pretrained'],
    allow_failed_imports=False)

model = dict(
    decode_head=dict(
        _delete_=True,
        # the full import path resolves in any scope, with or without custom_imports
        type='mmdense.UpsampledLinearHead',
        in_channels=2048,
        in_index=0,
        channels=2048,  # no projection: conv_seg is the only layer
        normalize=False,
        upsample_mode='bilinear',
        dropout_ratio=0.0,
        num_classes=21,
        norm_cfg=None,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)))
