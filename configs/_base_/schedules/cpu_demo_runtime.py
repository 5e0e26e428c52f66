# Runtime of the CPU demos (configs/*/*_synthetic.py: the SlotCon, CrOC, ViCE and MaskContrast
# demos, run by tools/demo.py / tools/demo.sh on 2 CPU cores): default_runtime.py with
# iteration-based logging, the gloo backend, logs every 20 iterations and checkpoints of
# iteration-based training. Replaces default_runtime.py in a demo's _base_ list.
# What depends on the demo's max_iters stays in the demo config:
#   train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
#   default_hooks = dict(checkpoint=dict(interval=...))
_base_ = ['../default_runtime.py']
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
