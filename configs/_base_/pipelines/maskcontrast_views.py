# MaskContrast's views (SPEC §4): two SimCLR views (RandomResizedCrop, flip, ColorJitter
# 0.4/0.4/0.4/0.1 p 0.8, grayscale p 0.2) with the saliency mask cut alongside (a
# seg_field of MultiViewRandomResizedCrop), under the area rule (MaskAreaRule):
#   rule='official' (released code): each view's foreground fraction in (1 %, 99 %),
#     2 tries, then another image (a logged skip);
#   rule='paper': each view keeps >= 10 % of the object's area.
crop_size = 224
mask_dir = 'saliency'  # set by the dataset config
area_rule = 'official'
simclr_view = [
    dict(type='RandomApply',
         transforms=[dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='FastRandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
]
view_crop = dict(type='MultiViewRandomResizedCrop',
                 view_groups=[dict(num_views=2, size=crop_size, scale=(0.2, 1.0),
                                   interpolation='bilinear', flip_prob=0.5, overlap=False)])
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='LoadSaliencyMask', mask_dir=mask_dir, invalid='skip', empty='skip'),
    dict(type='MaskAreaRule', crop=view_crop, rule=area_rule, max_tries=2, on_failure='skip'),
    dict(type='ViewwisePipeline', view_pipelines=[simclr_view, simclr_view]),
    dict(type='PackMultiViewInputs'),
]
