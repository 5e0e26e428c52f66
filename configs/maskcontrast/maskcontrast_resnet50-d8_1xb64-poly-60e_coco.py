# MaskContrast on COCO train2017 (118k images) with unsupervised saliency masks in
# data/coco/saliency_unsup/train2017/<stem>.png (tools/dataset_converters/make_saliency_masks.py
# data/coco/train2017 data/coco/saliency_unsup/train2017). The paper's recipe otherwise
# (see maskcontrast_resnet50-d8_1xb64-poly-60e_voc12aug.py); COCO images often hold
# several objects, so the masks' ids > 0 may each be their own prototype: model.max_objects.
_base_ = [
    './maskcontrast_resnet50-d8_1xb64-poly-60e_voc12aug.py',
]
saliency_dir = 'data/coco/saliency_unsup/train2017'
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='LoadSaliencyMask', mask_dir=saliency_dir, invalid='skip', empty='skip'),
    dict(type='MaskAreaRule', crop={{_base_.view_crop}}, rule={{_base_.area_rule}}, max_tries=2,
         on_failure='skip'),
    dict(type='ViewwisePipeline', view_pipelines=[{{_base_.simclr_view}}, {{_base_.simclr_view}}]),
    dict(type='PackMultiViewInputs'),
]
train_dataloader = dict(
    dataset=dict(_delete_=True, type='UnlabeledImageDataset', data_root='data/coco/',
                 img_glob='train2017/*.jpg', pipeline=train_pipeline))
