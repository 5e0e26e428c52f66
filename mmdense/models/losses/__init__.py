# Copyright (c) mmdense contributors. All rights reserved.
from .slotcon_losses import PrototypeDistillLoss, SlotContrastLoss

__all__ = ['PrototypeDistillLoss', 'SlotContrastLoss']
