# Cityscapes-27 for unsupervised semantic segmentation (the PiCIE / STEGO protocol, also
# ViCE's Cityscapes results): val_fine, Cityscapes *label-id* PNGs
# (*_gtFine_labelIds.png); ids 7..33 are the 27 classes 0..26, the 7 void ids 0..6 and
# any other value are ignored (mmdense.datasets.cityscapes27 maps them while loading; no
# conversion step). Short side 320 (bilinear; labels nearest), centre crop 320, as
# STEGO's evaluation and coco_stuff27.py.
#   python tools/analysis_tools/unsup_seg_eval.py CONFIG CKPT --mode kmeans \
#       --cfg-options test_dataloader.dataset.data_root=data/cityscapes
cityscapes27_unsup_root = 'data/cityscapes/'
cityscapes27_unsup_size = 320
cityscapes27_unsup_test_pipeline = [
    dict(type='RobustLoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),  # applies the label-id -> 27-class map
    # ids that are no Cityscapes label id (e.g. 255) -> ignored, as STEGO's metric does
    dict(type='ValidateSegMap', num_classes=27, out_of_range='ignore'),
    dict(type='mmseg.ResizeShortestEdge', scale=cityscapes27_unsup_size, max_size=100000),
    dict(type='CenterCrop', crop_size=cityscapes27_unsup_size),
    dict(type='mmseg.PackSegInputs', meta_keys=('img_path', 'ori_shape', 'img_shape')),
]
test_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        # full import path: the module is not imported by mmdense.datasets' __init__
        type='Cityscapes27Dataset',
        data_root=cityscapes27_unsup_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        test_mode=True,
        pipeline=cityscapes27_unsup_test_pipeline))
test_evaluator = dict(type='UnsupervisedSegMetric', num_classes=27)
test_cfg = dict(type='TestLoop')
