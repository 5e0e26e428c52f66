# Copyright (c) mmdense contributors. All rights reserved.
"""Semi-supervised video object segmentation of frozen dense features:
label propagation (:mod:`.label_propagation`, DINO / CRW protocol) and the
DAVIS J / F metrics (:mod:`.davis_metrics`)."""
from .davis_metrics import (BOUND_TH, bound_pixels, db_eval_boundary, db_eval_iou,
                            evaluate_sequence, f_measure, object_ids, seg2bmap, summarize)
from .label_propagation import (PropagationConfig, extract_frame_features, frame_size,
                                model_feature_fn, neighbourhood_mask, propagate_labels,
                                propagate_video, run_davis_propagation)

__all__ = [
    'BOUND_TH', 'PropagationConfig', 'bound_pixels', 'db_eval_boundary', 'db_eval_iou',
    'evaluate_sequence', 'extract_frame_features', 'f_measure', 'frame_size',
    'model_feature_fn', 'neighbourhood_mask', 'object_ids', 'propagate_labels',
    'propagate_video', 'run_davis_propagation', 'seg2bmap', 'summarize'
]
