# Copyright (c) mmdense contributors. All rights reserved.
from .bad_sample_hook import BadSampleReportHook
from .checkpoint_hook import SafeCheckpointHook
from .random_state_hook import RandomStateHook

__all__ = ['BadSampleReportHook', 'RandomStateHook', 'SafeCheckpointHook']
