# Copyright (c) mmdense contributors. All rights reserved.
"""mmdense's registries.

Every registry is a child of mmpretrain's (which are children of mmengine's
root registries), so a config with ``default_scope='mmdense'`` finds mmdense's
own components first and falls back to mmpretrain's (``ResNet``, ``LARS``,
``CosineEMA``, ``SelfSupDataPreprocessor`` ...) and mmengine's. From mmdense's
scope, components of mmengine's direct children are reached with their scope
prefix, e.g. ``type='mmseg.FCNHead'``. The reverse works too: every mmdense
registry is also listed among the children of its mmengine root registry
(:func:`_reachable_from_root`; its parent stays mmpretrain's), so under
``default_scope='mmseg'`` or ``'mmdet'`` (the downstream configs) an mmdense
component is named ``type='mmdense.CocoStuff27Dataset'``.
"""
from mmengine.registry import Registry
from mmpretrain.registry import DATA_SAMPLERS as MMPRETRAIN_DATA_SAMPLERS
from mmpretrain.registry import DATASETS as MMPRETRAIN_DATASETS
from mmpretrain.registry import EVALUATORS as MMPRETRAIN_EVALUATORS
from mmpretrain.registry import HOOKS as MMPRETRAIN_HOOKS
from mmpretrain.registry import LOG_PROCESSORS as MMPRETRAIN_LOG_PROCESSORS
from mmpretrain.registry import LOOPS as MMPRETRAIN_LOOPS
from mmpretrain.registry import METRICS as MMPRETRAIN_METRICS
from mmpretrain.registry import MODEL_WRAPPERS as MMPRETRAIN_MODEL_WRAPPERS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.registry import OPTIM_WRAPPERS as MMPRETRAIN_OPTIM_WRAPPERS
from mmpretrain.registry import OPTIMIZERS as MMPRETRAIN_OPTIMIZERS
from mmpretrain.registry import PARAM_SCHEDULERS as MMPRETRAIN_PARAM_SCHEDULERS
from mmpretrain.registry import RUNNERS as MMPRETRAIN_RUNNERS
from mmpretrain.registry import TASK_UTILS as MMPRETRAIN_TASK_UTILS
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS
from mmpretrain.registry import VISBACKENDS as MMPRETRAIN_VISBACKENDS
from mmpretrain.registry import VISUALIZERS as MMPRETRAIN_VISUALIZERS
from mmpretrain.registry import WEIGHT_INITIALIZERS as MMPRETRAIN_WEIGHT_INITIALIZERS

RUNNERS = Registry('runner', parent=MMPRETRAIN_RUNNERS, locations=['mmdense.engine'])
LOOPS = Registry('loop', parent=MMPRETRAIN_LOOPS, locations=['mmdense.engine'])
HOOKS = Registry('hook', parent=MMPRETRAIN_HOOKS, locations=['mmdense.engine'])
LOG_PROCESSORS = Registry(
    'log processor', parent=MMPRETRAIN_LOG_PROCESSORS, locations=['mmdense.engine'])
OPTIMIZERS = Registry('optimizer', parent=MMPRETRAIN_OPTIMIZERS, locations=['mmdense.engine'])
OPTIM_WRAPPERS = Registry(
    'optim wrapper', parent=MMPRETRAIN_OPTIM_WRAPPERS, locations=['mmdense.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmdense.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMPRETRAIN_PARAM_SCHEDULERS, locations=['mmdense.engine'])

DATASETS = Registry('dataset', parent=MMPRETRAIN_DATASETS, locations=['mmdense.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMPRETRAIN_DATA_SAMPLERS, locations=['mmdense.datasets'])
TRANSFORMS = Registry('transform', parent=MMPRETRAIN_TRANSFORMS, locations=['mmdense.datasets'])

MODELS = Registry('model', parent=MMPRETRAIN_MODELS, locations=['mmdense.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMPRETRAIN_MODEL_WRAPPERS, locations=['mmdense.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMPRETRAIN_WEIGHT_INITIALIZERS, locations=['mmdense.models'])
TASK_UTILS = Registry('task util', parent=MMPRETRAIN_TASK_UTILS, locations=['mmdense.models'])

METRICS = Registry('metric', parent=MMPRETRAIN_METRICS, locations=['mmdense.evaluation'])
EVALUATORS = Registry('evaluator', parent=MMPRETRAIN_EVALUATORS, locations=['mmdense.evaluation'])

VISUALIZERS = Registry(
    'visualizer', parent=MMPRETRAIN_VISUALIZERS, locations=['mmdense.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMPRETRAIN_VISBACKENDS, locations=['mmdense.visualization'])


def _reachable_from_root(registry: Registry) -> None:
    """List ``registry`` among its root's children under its scope.

    mmengine resolves ``'scope.Name'`` from a sibling package (mmseg, mmdet)
    by looking the scope up among the *root's* children only; mmdense's
    registries are grandchildren (below mmpretrain's), so without this entry
    ``'mmdense.X'`` is not found from mmseg/mmdet-scoped configs. The tree is
    otherwise unchanged (the parent stays mmpretrain's registry).
    """
    root = registry._get_root_registry()
    if registry.scope not in root._children:
        root._children[registry.scope] = registry


for _registry in (RUNNERS, LOOPS, HOOKS, LOG_PROCESSORS, OPTIMIZERS, OPTIM_WRAPPERS,
                  OPTIM_WRAPPER_CONSTRUCTORS, PARAM_SCHEDULERS, DATASETS, DATA_SAMPLERS,
                  TRANSFORMS, MODELS, MODEL_WRAPPERS, WEIGHT_INITIALIZERS, TASK_UTILS, METRICS,
                  EVALUATORS, VISUALIZERS, VISBACKENDS):
    _reachable_from_root(_registry)
