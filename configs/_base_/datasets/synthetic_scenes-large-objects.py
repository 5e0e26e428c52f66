# Synthetic scenes whose objects are twice as large (diameter 0.3-0.6 of the scene instead of
# 0.15-0.45): the same generator, classes and sizes as synthetic_scenes.py. Used by the CrOC
# demo: a patch-8 ViT on 64 px views sees a default-sized object as 1-4 tokens, too few to
# tell apart the thing classes that share colour tones and differ by texture only
# (docs/methods/croc.md).
_base_ = ['./synthetic_scenes.py']
scene_cfg = dict(img_size=128, num_stuff_classes=3, num_thing_classes=5, object_scale=(0.3, 0.6))

train_dataloader = dict(dataset=dict(**scene_cfg))
val_dataloader = dict(dataset=dict(**scene_cfg))
test_dataloader = val_dataloader
