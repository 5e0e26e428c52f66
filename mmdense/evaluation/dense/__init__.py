# Copyright (c) mmdense contributors. All rights reserved.
"""Unsupervised semantic segmentation of frozen dense features.

- :mod:`.features`: dense features through the model's inference interface
  (``model.extract_dense``), batches, :class:`DenseFeatureBank`;
- :mod:`.protocols`: prototype / k-means / object k-means evaluations;
- :mod:`.saliency`: saliency providers of the object protocol;
- :mod:`.driver`: :func:`run_unsup_eval` (any mode) and
  :func:`format_results`.

Only the interface of ``BaseDenseSelfSupervisor`` is read from a model.
"""
from .driver import EVAL_MODES, format_results, run_unsup_eval
from .features import (DENSE_INTERFACE, FEATURE_SOURCES, DenseFeatureBank, SaliencyFn,
                       check_dense_model, check_stage, collect_dense_features, dense_features,
                       gt_map, iter_batches, preprocess_batch)
from .protocols import (ASSIGN_MAX_SCORES, assign_dense, assign_dense_batch, assignment_batches,
                        dense_confusion, kmeans_eval, object_embeddings, object_kmeans_eval,
                        pca_project, prototype_eval)
from .saliency import (MODEL_SALIENCY, objects_from_probability, oracle_saliency,
                       saliency_from_classes, saliency_from_dir)

__all__ = [
    'ASSIGN_MAX_SCORES', 'DENSE_INTERFACE', 'EVAL_MODES', 'FEATURE_SOURCES', 'DenseFeatureBank',
    'SaliencyFn', 'assign_dense', 'assign_dense_batch', 'assignment_batches', 'check_dense_model',
    'check_stage', 'collect_dense_features', 'dense_confusion', 'dense_features', 'format_results',
    'gt_map', 'iter_batches', 'kmeans_eval', 'object_embeddings', 'object_kmeans_eval',
    'oracle_saliency', 'pca_project', 'preprocess_batch', 'prototype_eval', 'run_unsup_eval',
    'saliency_from_classes', 'saliency_from_dir', 'MODEL_SALIENCY', 'objects_from_probability'
]
