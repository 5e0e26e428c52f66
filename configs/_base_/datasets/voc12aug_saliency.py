# PASCAL VOC 2012 train_aug images (10 582, no labels) with saliency masks, MaskContrast's
# pre-training set. Masks: data/VOCdevkit/VOC2012/saliency_unsup/<image stem>.png
# (0 background, ids > 0 objects), made with
#   python tools/dataset_converters/make_saliency_masks.py data/VOCdevkit/VOC2012/JPEGImages \
#       data/VOCdevkit/VOC2012/saliency_unsup
# or brought from elsewhere (docs/methods/maskcontrast.md, "bring your own masks").
# The list names image files relative to JPEGImages (VOC's trainaug.txt holds stems:
#   sed 's/$/.jpg/' ImageSets/Segmentation/trainaug.txt > ImageSets/Segmentation/trainaug_jpg.txt).
# No pipeline here: the method config sets it (configs/_base_/pipelines/maskcontrast_views.py).
voc12aug_root = 'data/VOCdevkit/VOC2012/'
saliency_dir = voc12aug_root + 'saliency_unsup'
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='UnlabeledImageDataset',
        data_root=voc12aug_root,
        ann_file='ImageSets/Segmentation/trainaug_jpg.txt',
        data_prefix=dict(img_path='JPEGImages'),
        pipeline=[]),
)
