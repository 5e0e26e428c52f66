# COCO-Stuff-27 unsupervised segmentation (PiCIE / SlotCon protocol): curated val list,
# short side 320 (bilinear; labels nearest), centre crop 320, 27 classes, 255 ignored.
# Prepare the data with tools/dataset_converters/cocostuff27.py
# (docs/benchmarks/unsupervised_segmentation.md).
coco_stuff27_root = 'data/coco_stuff27/'
coco_stuff27_test_pipeline = [
    dict(type='RobustLoadImageFromFile'),  # a broken/missing image: an error naming it
    dict(type='mmseg.LoadAnnotations'),
    dict(type='ValidateSegMap', num_classes=27),  # label size and ids: an error naming the file
    dict(type='mmseg.ResizeShortestEdge', scale=320, max_size=100000),
    dict(type='CenterCrop', crop_size=320),
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
        type='CocoStuff27Dataset',
        data_root=coco_stuff27_root,
        ann_file='image_lists/val2017.txt',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        test_mode=True,
        pipeline=coco_stuff27_test_pipeline))
test_evaluator = dict(type='UnsupervisedSegMetric', num_classes=27)
test_cfg = dict(type='TestLoop')
