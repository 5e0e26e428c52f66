# ViCE's training pipeline of the paper configs on Cityscapes leftImg8bit/train (SPEC §3):
# vice_train_coco.py's steps (320 px views) with the superpixels cached under
# data/cityscapes/superpixels. Used by configs/vice/*_cityscapes-*.py, which rebuild the list
# for other view sizes from vice_load / vice_crop / vice_view_group / vice_after_crop.
_base_ = ['./vice_train_coco.py']
vice_load = [
    _base_.vice_load[0],  # RobustLoadImageFromFile
    dict(_base_.vice_load[1], cache_dir='data/cityscapes/superpixels',  # Superpixels
         img_root='data/cityscapes/leftImg8bit/train'),
    _base_.vice_load[2],  # CannyCentre
]
train_pipeline = [*vice_load, _base_.vice_crop, *_base_.vice_after_crop]
