# DINO's two global views (CrOC uses no local crops): RandomResizedCrop 224, scale
# (0.4, 1) (DINO's default; the released CrOC code uses (0.25, 1)), bicubic, flip 0.5 per
# view, crop geometry recorded (CrOC's patch positions in the original image); the same
# asymmetric photometric pair as BYOL (colour jitter 0.4/0.4/0.2/0.1 p 0.8, grayscale 0.2,
# blur p 1.0 / 0.1, solarize p 0 / 0.2).
_base_ = ['./byol_two_view.py']
crop_size = 224
global_crops_scale = (0.4, 1.0)
train_pipeline = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    # independent crops (no overlap rule: the clustering prunes clusters absent in a view)
    dict(type='MultiViewRandomResizedCrop',
         view_groups=[dict(num_views=2, size=crop_size, scale=global_crops_scale,
                           ratio=(3. / 4., 4. / 3.), interpolation='bicubic', flip_prob=0.5,
                           overlap=False)],
         antialias=True),
    dict(type='ViewwisePipeline', view_pipelines=[{{_base_.view_pipeline1}},
                                                   {{_base_.view_pipeline2}}]),
    dict(type='PackMultiViewInputs'),
]
