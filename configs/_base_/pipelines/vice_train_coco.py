# ViCE's training pipeline of the paper configs on COCO train2017 (SPEC §3), at 320 px views:
# SLIC superpixels of 20 px (precomputed under data/coco/superpixels, see docs/methods/vice.md),
# a Canny centre, M = 5 crops of beta x 320 px (beta ~ U(0.5, 2)), vice_views.py's colour
# distortion + blur, superpixel masking of at most 25 %, the regions present in all views.
# Used by configs/vice/*_coco-*.py and, with its own superpixel cache, vice_train_cityscapes.py.
# A config with other views rebuilds the list from the named steps, e.g. 512 px views:
#   train_pipeline = [
#       *_base_.vice_load,
#       dict(_base_.vice_crop, view_groups=[dict(_base_.vice_view_group, size=512)]),
#       *_base_.vice_after_crop,
#   ]
# (the COCO and Cityscapes configs set train_dataloader.dataset.pipeline themselves: the
# dataset bases own train_dataloader).
_base_ = ['./vice_views.py']
vice_load = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='Superpixels', region_size=20, ruler=10., num_iters=5, blur_size=3,
         cache_dir='data/coco/superpixels', img_root='data/coco/train2017'),
    dict(type='CannyCentre'),
]
vice_view_group = dict(num_views=5, size=320, size_coefficient=(0.5, 2.0), interpolation='bilinear')
vice_crop = dict(type='MultiViewRandomResizedCrop', view_groups=[vice_view_group], min_overlap=0.,
                 centre_key='crop_centre')
vice_after_crop = [
    dict(type='ViewwisePipeline', group_pipelines=[{{_base_.view_pipeline}}]),
    dict(type='RegionMasking', mode='superpixel', max_coverage=0.25),
    dict(type='MutualRegionFilter'),
    dict(type='PackMultiViewInputs'),
]
train_pipeline = [*vice_load, vice_crop, *vice_after_crop]
