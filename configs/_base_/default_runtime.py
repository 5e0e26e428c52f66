# Runtime shared by mmdense configs.
default_scope = 'mmdense'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic save, then last_checkpoint, then pruning; no NaN checkpoint;
    # auto-resume survives a damaged last_checkpoint
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

custom_hooks = [
    # random generator states in checkpoints, restored on resume
    dict(type='RandomStateHook'),
    # skipped (unreadable) samples: warned once per file, summarised per epoch,
    # listed in <work_dir>/bad_samples.json
    dict(type='BadSampleReportHook'),
    # a training set smaller than one batch (drop_last=True): a clear error
    # before the first iteration instead of a bare StopIteration
    dict(type='TrainDataCheckHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(window_size=10, custom_cfg=[dict(data_src='', method='mean', window_size='global')])

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=True)
