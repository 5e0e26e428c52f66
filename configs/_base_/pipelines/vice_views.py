# ViCE's M = 5 views (SPEC §3): SLIC region map of the full image (precomputed cache when
# present), a shared centre drawn from a blurred Canny map, 5 crops of side beta x view size
# (beta ~ U(0.5, 2), paper) containing it, resized, flipped; colour distortion + blur; masking
# (paper: superpixel regions, released code: one rectangle); only regions present in all views.
view_size = 320
num_views = 5
size_coefficient = (0.5, 2.0)  # paper; released code (0.5, 1.5)
mask_mode = 'superpixel'  # paper; released code 'rectangle'
max_mask_coverage = 0.25
superpixel_cfg = dict(type='Superpixels', region_size=20, ruler=10., num_iters=5, blur_size=3,
                      backend='auto', cache_dir=None, invalid='raise')
view_pipeline = [
    dict(type='RandomApply',
         transforms=[dict(type='FastColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='FastRandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='FastGaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
]
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    superpixel_cfg,
    dict(type='CannyCentre', low=100., high=200., sigma=0.05),
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=num_views, size=view_size, size_coefficient=size_coefficient,
                           interpolation='bilinear', flip_prob=0.5)],
         min_overlap=0., centre_key='crop_centre'),
    dict(type='ViewwisePipeline', group_pipelines=[view_pipeline]),
    dict(type='RegionMasking', mode=mask_mode, max_coverage=max_mask_coverage),
    dict(type='MutualRegionFilter'),
    dict(type='PackMultiViewInputs'),
]
