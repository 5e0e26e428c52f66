# Copyright (c) mmdense contributors. All rights reserved.
"""Reading the multi-view crop geometry back out of a batch's data samples."""
from typing import List, Tuple

import numpy as np
import torch


def stack_view_geometry(data_samples: List,
                        device: torch.device = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Batch the per-sample ``view_boxes`` and ``view_flips`` fields.

    Args:
        data_samples (list): data samples packed by ``PackMultiViewInputs``.
        device (torch.device, optional): where to put the tensors.

    Returns:
        tuple: ``boxes`` ``(B, V, 4)`` float32 normalised ``(x1, y1, x2, y2)``
        and ``flips`` ``(B, V)`` bool.
    """
    try:
        boxes = np.stack([np.asarray(ds.view_boxes, dtype=np.float32) for ds in data_samples])
        flips = np.stack([np.asarray(ds.view_flips, dtype=bool) for ds in data_samples])
    except AttributeError as err:
        raise KeyError('data samples lack view_boxes/view_flips: build the pipeline with '
                       'TwoViewRandomResizedCrop and PackMultiViewInputs') from err
    return (torch.from_numpy(boxes).to(device), torch.from_numpy(flips).to(device))
