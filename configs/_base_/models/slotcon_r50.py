# SlotCon with ResNet-50 (SPEC §1): projector 2048-4096-4096-256, K prototypes,
# slot predictor 256-4096-4096-256, teacher EMA 0.99 -> 1.
model = dict(
    type='SlotCon',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(3, ),
        norm_cfg=dict(type='BN'),
        zero_init_residual=True),
    neck=dict(type='MLPNeck', in_channels=2048, hid_channels=4096, out_channels=256,
              num_layers=3, dense=True),
    grouping=dict(type='SemanticGrouping', num_prototypes=256, dim=256,
                  temperature=0.07),
    predictor=dict(type='MLPNeck', in_channels=256, hid_channels=4096, out_channels=256,
                   num_layers=3, dense=False),
    group_loss=dict(type='PrototypeDistillLoss',  # K from grouping.num_prototypes
                    student_temp=0.1, teacher_temp=0.07, center_momentum=0.9),
    contrast_loss=dict(type='SlotContrastLoss', temperature=0.2),
    teacher_momentum=0.99,
    end_teacher_momentum=1.0,
    group_loss_weight=0.5,
)
