# COCO-Things for unsupervised semantic segmentation (CrOC Table 3 "CC-Th." column): the
# COCO-Stuff-27 val labels (tools/dataset_converters/cocostuff27.py, see
# coco_stuff27.py) restricted to their 12 thing super-classes, ids 0-11; stuff pixels
# (ids 12-26) are ignored (255). mmseg's class-subset mechanism does it: the 12 thing
# names as `metainfo.classes` make CocoStuff27Dataset map 0-11 to themselves and 12-26
# to 255 (the same subset as the COCO-Things linear probe).
# Resolution: as voc12_unsup.py (448 x 448 square resize, Leopart's evaluation; the CrOC text
# states none). Leopart's COCO-Things is the same 12 thing super-classes, stuff ignored.
#   python tools/analysis_tools/unsup_seg_eval.py CONFIG CKPT --mode kmeans \
#       --cfg-options test_dataloader.dataset.data_root=data/coco_stuff27
coco_things_unsup_root = 'data/coco_stuff27/'
coco_things_unsup_size = 448
coco_thing_classes = ('electronic', 'appliance', 'food', 'furniture', 'indoor', 'kitchen',
                      'accessory', 'animal', 'outdoor', 'person', 'sports', 'vehicle')
coco_things_unsup_test_pipeline = [
    dict(type='RobustLoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),  # applies the dataset's 27 -> 12 label map
    dict(type='ValidateSegMap', num_classes=12),
    # square resize, labels nearest (Leopart's T.Resize((448, 448)))
    dict(type='mmseg.Resize', scale=(coco_things_unsup_size, coco_things_unsup_size), keep_ratio=False),
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
        data_root=coco_things_unsup_root,
        metainfo=dict(classes=coco_thing_classes),
        ann_file='image_lists/val2017.txt',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        test_mode=True,
        pipeline=coco_things_unsup_test_pipeline))
test_evaluator = dict(type='UnsupervisedSegMetric', num_classes=12)
test_cfg = dict(type='TestLoop')
