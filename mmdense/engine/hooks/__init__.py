# Copyright (c) mmdense contributors. All rights reserved.
from .bad_sample_hook import BadSampleReportHook
from .checkpoint_hook import SafeCheckpointHook
from .checkpoint_match_hook import CheckpointMatchHook
from .dino_hooks import FreezeLastLayerHook, TeacherTempWarmupHook
from .precise_bn_hook import PreciseBNHook
from .random_state_hook import RandomStateHook
from .train_data_check_hook import TrainDataCheckHook

__all__ = ['BadSampleReportHook', 'CheckpointMatchHook', 'PreciseBNHook', 'RandomStateHook',
           'SafeCheckpointHook', 'TrainDataCheckHook', 'FreezeLastLayerHook',
           'TeacherTempWarmupHook']
