# Copyright (c) mmdense contributors. All rights reserved.
from .maskcontrast_loss import PixelPrototypeContrastLoss, SaliencyBCELoss
from .dino_loss import DINOLoss
from .slotcon_losses import PrototypeDistillLoss, SlotContrastLoss
from .vice_loss import SwAVRegionLoss

__all__ = ['PrototypeDistillLoss', 'SlotContrastLoss',
           'PixelPrototypeContrastLoss', 'SaliencyBCELoss', 'DINOLoss', 'SwAVRegionLoss']
