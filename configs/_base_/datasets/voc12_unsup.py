# PASCAL VOC 2012 val for unsupervised semantic segmentation (k-means on frozen dense
# features, CrOC Table 3 "PVOC12" column; also MaskContrast's VOC evaluations): 1449 val
# images, 21 classes (background + 20 objects), the 255 object borders ignored.
# Resolution: the CrOC text gives none and its evaluation code is not released. Leopart's
# evaluation code (MkuuWaUjinga/leopart), which defines the same PVOC12 / COCO-Things /
# COCO-Stuff tasks, resizes val images to 448 x 448 and the labels alike (nearest); so
# here (Leopart then scores 100 x 100 label maps, mmdense the 448 x 448 ones). Whether
# CrOC used exactly that is not verifiable from its text.
#   python tools/analysis_tools/unsup_seg_eval.py CONFIG CKPT --mode kmeans \
#       --cfg-options test_dataloader.dataset.data_root=data/VOCdevkit/VOC2012
# or compose it into a method config: _base_ = [<method config>, '../_base_/datasets/voc12_unsup.py'].
# Layout: mmseg's VOC (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/val.txt).
voc12_unsup_root = 'data/VOCdevkit/VOC2012'
voc12_unsup_size = 448
voc12_unsup_test_pipeline = [
    dict(type='RobustLoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='ValidateSegMap', num_classes=21),
    # square resize, labels nearest (Leopart's T.Resize((448, 448)))
    dict(type='mmseg.Resize', scale=(voc12_unsup_size, voc12_unsup_size), keep_ratio=False),
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
        type='mmseg.PascalVOCDataset',
        data_root=voc12_unsup_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        test_mode=True,
        pipeline=voc12_unsup_test_pipeline))
test_evaluator = dict(type='UnsupervisedSegMetric', num_classes=21)
test_cfg = dict(type='TestLoop')
