# Two overlapping views with BYOL's asymmetric photometric augmentation (SlotCon):
# RandomResizedCrop 224 (0.08, 1), bicubic antialiased like PIL (the official pipeline is
# torchvision on PIL images), flip 0.5 per view, crop geometry recorded.
# FastColorJitter / FastRandomGrayscale / FastGaussianBlur: the random draws of mmpretrain's
# ColorJitter (PIL operations, as torchvision's), mmcv's RandomGrayscale and mmpretrain's
# GaussianBlur (PIL's filter), computed faster (mmdense/datasets/transforms/photometric.py):
# the same bytes (hue shift and blur with Pillow's numerics in OpenCV: pillow_like.py;
# `exact=True` runs Pillow itself). Equality tested.
# A pipeline, not a dataset: a method config combines it with a dataset base, e.g.
#   train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))
crop_size = 224
view_pipeline1 = [
    dict(type='RandomApply',
         transforms=[dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)],
         prob=0.8),
    dict(type='FastRandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='FastGaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.0),
    dict(type='Solarize', thr=128, prob=0.0),
]
view_pipeline2 = [
    dict(type='RandomApply',
         transforms=[dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)],
         prob=0.8),
    dict(type='FastRandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='FastGaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
train_pipeline = [
    # 8-bit BGR from any valid image (gray, CMYK, RGBA, 16-bit, EXIF-rotated); a broken file is
    # skipped and reported (BadSampleReportHook), a missing one stops the run
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    # two 224 views of one group; view 2 must cover >= 1% of its area inside view 1 (SPEC §1);
    # records each view's crop and flip (overlap boxes are derived by pairwise_overlap_boxes);
    # antialias=True resizes each crop like PIL's Image.resize(BICUBIC) (False: OpenCV's
    # non-antialiased INTER_CUBIC, downscaled views alias)
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=2, size=crop_size, scale=(0.08, 1.0), ratio=(3. / 4., 4. / 3.),
                           interpolation='bicubic', flip_prob=0.5)],
         min_overlap=0.01, max_tries=10, antialias=True),
    dict(type='ViewwisePipeline', view_pipelines=[view_pipeline1, view_pipeline2]),
    dict(type='PackMultiViewInputs'),
]
