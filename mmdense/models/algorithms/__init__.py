# Copyright (c) mmdense contributors. All rights reserved.
from .base import GuardedDistributedDataParallel, NonFiniteLossError, NonFiniteLossMixin
from .slotcon import SlotCon

__all__ = [
    'GuardedDistributedDataParallel', 'NonFiniteLossError', 'NonFiniteLossMixin', 'SlotCon'
]
