# Copyright (c) mmdense contributors. All rights reserved.
from .slotcon import SlotCon

__all__ = ['SlotCon']
