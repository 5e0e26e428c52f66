# Synthetic scenes with 3 stuff + 12 thing classes (instead of 3 + 5): the same generator
# and sizes as synthetic_scenes.py. Used by the MaskContrast demo, whose contrast treats
# every other object as a negative: with 5 thing classes about one negative in five is of
# the positive's own class, with 12 about one in twelve, nearer PASCAL VOC's 20 classes
# (docs/methods/maskcontrast.md).
_base_ = ['./synthetic_scenes.py']
num_classes = 15  # 3 stuff + 12 things
scene_cfg = dict(img_size=128, num_stuff_classes=3, num_thing_classes=12)

test_pipeline = [
    dict(type='ValidateSegMap', num_classes=num_classes),
    dict(type='mmseg.PackSegInputs', meta_keys=('img_path', 'ori_shape', 'img_shape', 'sample_idx')),
]
train_dataloader = dict(dataset=dict(**scene_cfg))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, **scene_cfg))
test_dataloader = val_dataloader
val_evaluator = dict(num_classes=num_classes)
test_evaluator = val_evaluator
