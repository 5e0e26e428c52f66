# Copyright (c) mmdense contributors. All rights reserved.
"""Check a config before anything heavy is built.

mmengine finds most config mistakes only while building, after the dataset
has been listed, the model allocated and (for some) hours of training:
``TypeError: __init__() got an unexpected keyword argument`` names the
argument but not where it is in the config, a ``'256'`` string where an int
is expected fails deep inside torch, and a crop larger than the image or a
batch size that the processes cannot share silently trains something else
than intended. :func:`validate_config` resolves every ``type=`` of the model,
the datasets, their pipelines, the dataloaders, optimizer, schedulers,
hooks, loops and evaluators in the registries (imports only, nothing is
built) and reports, in one error, every problem with its config key in the
``--cfg-options`` spelling, e.g. ``model.grouping.num_prototypes``:

- unknown arguments (with the closest valid name) and unknown types, hooks
  included (``default_hooks.checkpoint.intervall``);
- misspelt top-level keys (``train_dataloder``, ``optim_wraper``): mmengine
  ignores a top-level key it does not know, so the misspelt setting would
  silently not apply. Top-level keys are open-ended (a config defines helper
  variables such as ``crop_size`` or ``num_classes``), so only a key that is
  not itself known *and* is close (``difflib`` ratio >= 0.8) to a known one
  is reported, with the suggestion; known keys are ``Runner.__init__``'s
  (and ``FlexibleRunner``'s) arguments and :data:`MMENGINE_TOP_LEVEL_KEYS`
  (``custom_imports``, ``default_scope``, ``vis_backends`` ...), see
  :func:`known_top_level_keys`;
- values of the wrong type for the constructor's annotation
  (``int``/``float``/``bool``/``str``/``dict``/sequences, ``Optional`` and
  ``Union`` of those);
- the algorithm's own rules: its class's ``check_config(model_cfg)``
  (e.g. SlotCon: ``K = model.grouping.num_prototypes >= 2``) and its
  ``min_train_batch_size`` (2 for the self-supervised methods: BatchNorm,
  contrast between images; mmdet/mmseg models declare none);
  ``auto_scale_lr.base_batch_size`` divisible by the number of
  processes unless ``--auto-scale-lr``; a multi-view crop no larger than the
  images of a dataset whose image size is known (``img_size``).

Warnings (logged, not raised) cover what can be intended: a schedule that
does not end where training ends, or a total batch that differs from the
one the learning rate was set for.

Configs of other scopes (``default_scope='mmseg'``/``'mmdet'`` benchmarks)
are checked too, except nested components these frameworks build without a
registry (e.g. ``roi_layer``). Should the checker ever be wrong about a
config, ``MMDENSE_SKIP_CONFIG_VALIDATION=1`` turns it off.
"""
import difflib
import inspect
import os
import typing
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.logging import print_log


class ConfigError(ValueError):
    """A config cannot work; the message lists every problem by key."""


def _is_int(value: Any) -> bool:
    import numpy as np
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _matches(value: Any, annotation: Any) -> Optional[bool]:
    """Whether ``value`` fits ``annotation``; None when it cannot be told."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return None
    if isinstance(value, dict) and 'type' in value:
        return None  # a component config standing for an object
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        verdicts = [_matches(value, arg) for arg in args]
        if any(v is True for v in verdicts) or any(v is None for v in verdicts):
            return True if any(v is True for v in verdicts) else None
        return False
    if origin is typing.Literal:
        return value in args
    if annotation is type(None):
        return value is None
    if annotation is int:
        return _is_int(value)
    if annotation is float:
        import numpy as np
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, bool)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    container = origin or annotation
    if container in (dict, typing.Dict) or container is typing.Mapping or (
            inspect.isclass(container) and issubclass(container, dict)):
        return isinstance(value, dict)
    try:
        import collections.abc as cabc
        if container in (list, tuple, cabc.Sequence, typing.Sequence, typing.List, typing.Tuple):
            if not isinstance(value, (list, tuple)):
                return False
            if args and container is not tuple and len(args) == 1:
                inner = [_matches(v, args[0]) for v in value]
                return False if any(v is False for v in inner) else True
            return True
    except TypeError:
        return None
    return None


def _describe(annotation: Any) -> str:
    text = getattr(annotation, '__name__', None) or str(annotation)
    return text.replace('typing.', '')


def _forwarded_kwargs(klass: type) -> Optional[Tuple[str, ...]]:
    """The names a class's ``**kwargs`` may hold when it hands them to
    something other than its base class; None when that cannot be told
    (then ``**kwargs`` is followed up the MRO)."""
    from mmengine.hooks import CheckpointHook
    if klass is CheckpointHook:
        # passed on to runner.save_checkpoint(), whose every argument the hook
        # already passes itself: any extra one fails at the first save
        return ()
    return None


def _accepted(cls: type) -> Tuple[Dict[str, inspect.Parameter], bool]:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up the
    MRO; the flag tells whether the set is closed (checkable)."""
    params: Dict[str, inspect.Parameter] = {}
    has_init = False
    for klass in cls.__mro__:
        if klass is object:
            # no __init__ (nor __new__) anywhere: the class takes no argument
            # (e.g. mmengine's ParamSchedulerHook, RuntimeInfoHook)
            closed = not has_init and getattr(cls, '__new__', None) is object.__new__
            return params, closed
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        has_init = True
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            return params, False
        try:
            hints = typing.get_type_hints(init)
        except Exception:
            hints = {}
        open_kwargs = False
        for name, param in list(sig.parameters.items())[1:]:
            if param.kind is param.VAR_KEYWORD:
                open_kwargs = True
            elif param.kind is not param.VAR_POSITIONAL and name not in params:
                params[name] = param.replace(annotation=hints.get(name, param.annotation))
        if not open_kwargs:
            return params, True
        forwarded = _forwarded_kwargs(klass)
        if forwarded is not None:
            for name in forwarded:
                params.setdefault(name, inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY))
            return params, True
    return params, False


class _Checker:
    """Walks the config and collects problems as ``key: message`` lines."""

    # nested argument -> registry of its components (by the parent's registry)
    def __init__(self, registries: dict, scope: str = 'mmdense') -> None:
        self.r = registries
        self.scope = scope
        self.errors: List[str] = []
        self.warnings: List[str] = []

    def error(self, key: str, message: str) -> None:
        self.errors.append(f'{key}: {message}')

    def lookup(self, registry, type_: str, scope: Optional[str]):
        """``(class or None, registry searched)``, as mmengine's
        ``build_from_cfg`` resolves it: in the registry of the config's default
        scope (or of the component's ``_scope_``)."""
        with registry.switch_scope_and_registry(scope) as scoped:
            return scoped.get(type_), scoped

    def resolve(self, registry, type_: Any, key: str, scope: Optional[str] = None,
                nested: bool = False):
        if inspect.isclass(type_) or callable(type_):
            return type_
        if not isinstance(type_, str):
            self.error(f'{key}.type', f'expected a registered name (str), got {type_!r}')
            return None
        try:
            found, searched = self.lookup(registry, type_, scope)
            if found is None and nested:  # coders, assigners ... (mmdet)
                found = self.lookup(self.r['task_util'], type_, scope)[0]
        except Exception as err:  # a scope whose package is missing, an import error
            self.error(f'{key}.type', f'{type_!r} cannot be resolved in the {registry.name} '
                       f'registry ({type(err).__name__}: {err})')
            return None
        if found is None and nested and self.scope != 'mmdense':
            return None  # other frameworks build some parts their own way (mmcv.ops ...)
        if found is None:
            names = set()
            reg = searched
            while reg is not None:
                names |= set(reg.module_dict)
                reg = reg.parent
            close = difflib.get_close_matches(type_, sorted(names), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ''
            self.error(f'{key}.type', f'unknown {registry.name} type {type_!r}{hint}')
        return found

    def child_registry(self, registry, arg: str):
        r = self.r
        if arg.endswith('_cfg'):  # init_cfg, norm_cfg, act_cfg ...: layer options
            return None
        if registry is r['model']:
            return r['model']
        if registry is r['transform']:
            return r['transform']
        if registry is r['dataset']:
            if arg == 'pipeline':
                return r['transform']
            if arg in ('dataset', 'datasets'):
                return r['dataset']
            return None
        if registry is r['optim_wrapper'] and arg == 'optimizer':
            return r['optimizer']
        return None

    def component(self, cfg: dict, key: str, registry, extra_ok: Sequence[str] = (),
                  nested: bool = False) -> None:
        if 'type' not in cfg:
            return
        cls = self.resolve(registry, cfg['type'], key, cfg.get('_scope_'), nested)
        if cls is None or not inspect.isclass(cls):
            return
        params, closed = _accepted(cls)
        for arg, value in cfg.items():
            if arg == 'type' or arg in extra_ok or arg.startswith('_'):
                continue
            akey = f'{key}.{arg}'
            if arg not in params:
                if closed:
                    close = difflib.get_close_matches(arg, list(params), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ''
                    self.error(akey, f'unknown argument of {cls.__name__}{hint}')
                    continue
            elif not (value is None and params[arg].default is None):
                verdict = _matches(value, params[arg].annotation)
                if verdict is False:
                    self.error(akey, f'expected {_describe(params[arg].annotation)} for '
                               f'{cls.__name__}({arg}=...), got {type(value).__name__} {value!r}')
            child = self.child_registry(registry, arg)
            if child is not None:
                self.nested(value, akey, child)

    def nested(self, value: Any, key: str, registry, inner: bool = True) -> None:
        if isinstance(value, dict):
            if 'type' in value:
                self.component(value, key, registry, nested=inner)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                self.nested(item, f'{key}.{i}', registry, inner)


def _world_size(cfg: Config) -> int:
    if cfg.get('launcher', 'none') in (None, 'none'):
        return 1
    for var in ('WORLD_SIZE', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE'):
        if os.environ.get(var, '').isdigit():
            return int(os.environ[var])
    return 1


def _registries() -> dict:
    from mmdense import registry as R
    return dict(model=R.MODELS, transform=R.TRANSFORMS, dataset=R.DATASETS,
                sampler=R.DATA_SAMPLERS, optim_wrapper=R.OPTIM_WRAPPERS,
                optimizer=R.OPTIMIZERS, scheduler=R.PARAM_SCHEDULERS, hook=R.HOOKS,
                loop=R.LOOPS, metric=R.METRICS, task_util=R.TASK_UTILS)


def _dataloader(checker: _Checker, cfg: Config, name: str) -> None:
    loader = cfg.get(name)
    if not isinstance(loader, dict):
        return
    from torch.utils.data import DataLoader
    params, _ = _accepted(DataLoader)
    allowed = set(params) | {'dataset', 'sampler', 'batch_sampler', 'collate_fn',
                             'worker_init_fn'}
    for arg in loader:
        if arg not in allowed:
            close = difflib.get_close_matches(arg, sorted(allowed), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ''
            checker.error(f'{name}.{arg}', f'unknown dataloader argument{hint}')
    batch = loader.get('batch_size')
    if batch is not None and (not _is_int(batch) or batch < 1):
        checker.error(f'{name}.batch_size', f'expected a positive int, got {batch!r}')
    workers = loader.get('num_workers')
    if workers is not None and (not _is_int(workers) or workers < 0):
        checker.error(f'{name}.num_workers', f'expected an int >= 0, got {workers!r}')
    for arg, reg in (('dataset', 'dataset'), ('sampler', 'sampler')):
        if isinstance(loader.get(arg), dict):
            checker.component(loader[arg], f'{name}.{arg}', checker.r[reg])


def _size_pair(value: Any) -> Optional[Tuple[int, int]]:
    if _is_int(value):
        return int(value), int(value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value):
        return int(value[0]), int(value[1])
    return None


def _check_crops(checker: _Checker, dataset: dict, key: str) -> None:
    """Multi-view / random-resized crops no larger than a known image size."""
    if not isinstance(dataset, dict):
        return
    for i, sub in enumerate(dataset.get('datasets') or []):
        _check_crops(checker, sub, f'{key}.datasets.{i}')
    if isinstance(dataset.get('dataset'), dict):
        _check_crops(checker, dataset['dataset'], f'{key}.dataset')
    image = _size_pair(dataset.get('img_size'))
    if image is None:
        return
    for i, t in enumerate(dataset.get('pipeline') or []):
        if not isinstance(t, dict):
            continue
        if t.get('type') == 'MultiViewRandomResizedCrop':
            sizes = [(f'{key}.pipeline.{i}.view_groups.{g}.size', group.get('size'))
                     for g, group in enumerate(t.get('view_groups') or [])
                     if isinstance(group, dict)]
        elif t.get('type') in ('TwoViewRandomResizedCrop', 'RandomResizedCrop',
                               'mmpretrain.RandomResizedCrop'):
            sizes = [(f'{key}.pipeline.{i}.size', t.get('size', t.get('scale')))]
        else:
            continue
        for where, size in sizes:
            crop = _size_pair(size)
            if crop is not None and (crop[0] > image[0] or crop[1] > image[1]):
                checker.error(where, f'crop {crop[0]} x {crop[1]} is larger than the images '
                              f'({key}.img_size = {image[0]} x {image[1]}): every view would '
                              'be upsampled; use a smaller crop or larger images')


def _model_class(cfg: Config, checker: '_Checker'):
    """The registered class of ``cfg.model`` (None if unknown)."""
    model = cfg.get('model')
    if not isinstance(model, dict) or not isinstance(model.get('type'), str):
        return None
    try:
        return checker.r['model'].get(model['type'])
    except Exception:  # unknown types are reported by checker.component
        return None


def _mmdense_rules(checker: _Checker, cfg: Config, mode: str) -> None:
    model_cls = _model_class(cfg, checker)
    # each algorithm declares its own rules (e.g. SlotCon: K >= 2, one K)
    check = getattr(model_cls, 'check_config', None)
    if callable(check):
        for key, message in check(cfg.model):
            checker.error(f'model.{key}', message)
    if mode != 'train':
        return
    loader = cfg.get('train_dataloader') or {}
    batch = loader.get('batch_size') if isinstance(loader, dict) else None
    world = _world_size(cfg)
    min_batch = getattr(model_cls, 'min_train_batch_size', None)  # declared by the algorithm
    if _is_int(batch) and _is_int(min_batch) and batch < min_batch:
        checker.error('train_dataloader.batch_size',
                      f'must be >= {min_batch} per process to train {model_cls.__name__} '
                      f'(BatchNorm statistics and contrast between images), got {batch}')
    scale = cfg.get('auto_scale_lr') or {}
    base = scale.get('base_batch_size') if isinstance(scale, dict) else None
    if _is_int(base) and _is_int(batch) and not scale.get('enable', False):
        if base % world:
            checker.error('auto_scale_lr.base_batch_size',
                          f'the learning rate is set for {base} images per step, which '
                          f'{world} processes cannot share equally; use --auto-scale-lr (or '
                          f'auto_scale_lr.enable=True) to rescale it for '
                          f'{batch} x {world} images')
        elif batch * world != base:
            checker.warnings.append(
                f'train_dataloader.batch_size: {batch} x {world} processes = {batch * world} '
                f'images per step, but the learning rate is set for '
                f'auto_scale_lr.base_batch_size = {base}; use --auto-scale-lr to rescale it')
    if isinstance(loader, dict):
        _check_crops(checker, loader.get('dataset'), 'train_dataloader.dataset')
    train_cfg = cfg.get('train_cfg') or {}
    total = train_cfg.get('max_iters', train_cfg.get('max_epochs'))
    schedulers = cfg.get('param_scheduler')
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    if _is_int(total) and isinstance(schedulers, (list, tuple)) and schedulers:
        last = schedulers[-1]
        end = last.get('end') if isinstance(last, dict) else None
        if _is_int(end) and end != total and end < 10 ** 9:
            checker.warnings.append(
                f'param_scheduler.{len(schedulers) - 1}.end = {end} differs from the training '
                f'length train_cfg.{"max_iters" if "max_iters" in train_cfg else "max_epochs"} '
                f'= {total}: the schedule will not end where training ends')


#: top-level keys mmengine reads besides ``Runner.__init__``'s arguments
#: (``Runner.from_cfg``, ``FlexibleRunner``, ``Config``, the tools)
MMENGINE_TOP_LEVEL_KEYS = (
    'custom_imports', 'default_scope', 'launcher', 'work_dir', 'auto_scale_lr', 'randomness',
    'env_cfg', 'log_processor', 'log_level', 'load_from', 'resume', 'visualizer',
    'vis_backends', 'model_wrapper_cfg', 'find_unused_parameters', 'sync_bn', 'compile',
    'activation_checkpointing', 'efficient_conv_bn_eval', 'runner_type', 'strategy',
    'experiment_name', 'gpu_ids', 'dist_params',
)
#: how close (``difflib`` ratio) an unknown top-level key must be to a known
#: one to be reported as a misspelling of it
TOP_LEVEL_CUTOFF = 0.8


def known_top_level_keys() -> List[str]:
    """The top-level config keys mmengine knows: the arguments of
    ``Runner.__init__`` and ``FlexibleRunner.__init__`` and
    :data:`MMENGINE_TOP_LEVEL_KEYS`."""
    from mmengine.runner import Runner
    names = set(MMENGINE_TOP_LEVEL_KEYS)
    runners = [Runner]
    try:
        from mmengine.runner import FlexibleRunner
        runners.append(FlexibleRunner)
    except ImportError:  # older mmengine
        pass
    for runner in runners:
        names |= set(inspect.signature(runner.__init__).parameters)
    return sorted(names - {'self', 'cfg'})


def _top_level_keys(checker: _Checker, cfg: Config) -> None:
    """Report top-level keys that look like misspelt known keys (see the
    module docstring for the rule)."""
    known = known_top_level_keys()
    for key in cfg.keys():
        if not isinstance(key, str) or key.startswith('_') or key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=TOP_LEVEL_CUTOFF)
        if close:
            checker.error(key, f"unknown top-level key (did you mean '{close[0]}'?); mmengine "
                          'would ignore it, so the setting would silently not apply')


def validate_config(cfg: Config, mode: str = 'train', logger: str = 'current') -> List[str]:
    """Check ``cfg`` for ``mode`` ('train' or 'test') without building it.

    Raises:
        ConfigError: listing every problem as ``key: message``.

    Returns:
        list[str]: warnings (also logged).
    """
    if mode not in ('train', 'test'):
        raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
    if os.environ.get('MMDENSE_SKIP_CONFIG_VALIDATION') == '1':
        print_log('Config validation skipped (MMDENSE_SKIP_CONFIG_VALIDATION=1).', logger=logger,
                  level=30)
        return []
    from mmengine.registry import DefaultScope
    scope = cfg.get('default_scope', 'mmdense') or 'mmdense'
    checker = _Checker(_registries(), scope)
    _top_level_keys(checker, cfg)
    with DefaultScope.overwrite_default_scope(scope):
        if isinstance(cfg.get('model'), dict):
            checker.component(cfg.model, 'model', checker.r['model'])
        if mode == 'train':
            _dataloader(checker, cfg, 'train_dataloader')
            if isinstance(cfg.get('optim_wrapper'), dict):
                checker.component(cfg.optim_wrapper, 'optim_wrapper', checker.r['optim_wrapper'],
                                  extra_ok=('constructor', 'paramwise_cfg'))
            schedulers = cfg.get('param_scheduler')
            if isinstance(schedulers, dict):
                schedulers = [schedulers]
            for i, sched in enumerate(schedulers or []):
                if isinstance(sched, dict):  # convert_to_iter_based: read by the runner
                    checker.component(sched, f'param_scheduler.{i}', checker.r['scheduler'],
                                      extra_ok=('convert_to_iter_based', ))
            if isinstance(cfg.get('train_cfg'), dict) and 'type' in cfg.train_cfg:
                checker.component(cfg.train_cfg, 'train_cfg', checker.r['loop'],
                                  extra_ok=('dataloader', 'runner'))
            for name, hook in (cfg.get('default_hooks') or {}).items():
                if isinstance(hook, dict):
                    # `priority` is read by Runner.register_hook, not the hook
                    checker.component(hook, f'default_hooks.{name}', checker.r['hook'],
                                      extra_ok=('priority', ))
            for i, hook in enumerate(cfg.get('custom_hooks') or []):
                if isinstance(hook, dict):
                    checker.component(hook, f'custom_hooks.{i}', checker.r['hook'],
                                      extra_ok=('priority', ))
        loaders = ('val_dataloader', 'test_dataloader') if mode == 'train' else ('test_dataloader', )
        for name in loaders:
            if cfg.get(name) is not None:
                _dataloader(checker, cfg, name)
        for name in ('val_evaluator', 'test_evaluator'):
            if isinstance(cfg.get(name), (dict, list, tuple)):
                checker.nested(cfg.get(name), name, checker.r['metric'], inner=False)
        _mmdense_rules(checker, cfg, mode)
    if checker.errors:
        source = getattr(cfg, 'filename', None) or 'the config'
        lines = '\n'.join(f'  - {e}' for e in checker.errors)
        raise ConfigError(f'{len(checker.errors)} problem(s) in {source}:\n{lines}')
    for warning in checker.warnings:
        print_log(f'Config: {warning}', logger=logger, level=30)
    return checker.warnings
