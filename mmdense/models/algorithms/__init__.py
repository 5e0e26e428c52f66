# Copyright (c) mmdense contributors. All rights reserved.
from .base import GuardedDistributedDataParallel, NonFiniteLossError, NonFiniteLossMixin
from .croc import CrOC
from .maskcontrast import MaskContrast
from .slotcon import SlotCon
from .vice import ViCE

__all__ = [
    'GuardedDistributedDataParallel', 'NonFiniteLossError', 'NonFiniteLossMixin', 'SlotCon',
    'MaskContrast', 'ViCE', 'CrOC'
]
