# Copyright (c) mmdense contributors. All rights reserved.
"""Constants, config helpers and shared types of the benchmark stages."""
import copy
from collections import OrderedDict
from typing import Callable, List, Optional, Sequence, Tuple

BENCHMARK_STAGES = ('step', 'data', 'eval')
PRECISIONS = ('fp32', 'bf16')

#: default iterations / warm-up per stage (data: images)
DEFAULT_ITERS = dict(step=10, data=160, eval=1)
DEFAULT_WARMUP = dict(step=2, data=10, eval=0)
#: the COCO-Stuff-27 val set size and evaluation size of SlotCon's protocol
EVAL_NUM_IMAGES = 2175
EVAL_IMG_SIZE = 320
EVAL_NUM_CLUSTERS = 27

#: the issue's targets of the data and eval stages (step: per method, see
#: :data:`.references.METHOD_STEP_TARGETS`)
TARGETS = dict(
    data=dict(min_ratio=2.5, text='data pipeline >= 2.5 x the PIL + torchvision v2 reference'),
    eval=dict(max_seconds=600.,
              text=f'unsupervised segmentation ({EVAL_NUM_IMAGES} images, {EVAL_IMG_SIZE} px, '
                   f'K={EVAL_NUM_CLUSTERS}, one seed) within 10 minutes'),
)

STEP_CONVENTION = (
    'img/s counts source images: a step of the subject on batch B processes B images, each as '
    'V views (the views go through the student, and through the teacher when there is one); a '
    'supervised reference step on batch B processes B images of the first view\'s size, one '
    'view each (reference views "first"), or all B x V crops (reference views "all"). The FLOP '
    'bound printed beside a ratio is what it would be at equal FLOP efficiency.')
DATA_CONVENTION = (
    'img/s counts source images, each giving all its views; one process, one thread '
    '(torch and OpenCV), files read from the page cache after the warm-up.')
EVAL_CONVENTION = (
    'Both paths cluster the same features (extracted once, by the protocol). Protocol: '
    'collect_dense_features + kmeans_eval (faiss k-means fit, batched assignment at the label '
    'size). Reference: faiss.Kmeans with the same settings, then per image the features '
    'bilinearly upsampled to the label size and every pixel assigned to its nearest centroid '
    '(numpy), confusion by np.bincount.')

#: Step regions timed on the *built* objects, never by editing the algorithm:
#: ``(where, attribute path, region)``. ``where`` is 'model' or 'optim'; a
#: path the object does not have is skipped. Modules get forward pre/post
#: hooks, methods are wrapped on the instance. The EMA teacher's copies of
#: ``model.teacher_follows`` and the remaining direct children are added per
#: model by :func:`model_regions`.
BENCHMARK_REGIONS: Tuple[Tuple[str, str, str], ...] = (
    ('optim', 'optim_context', 'forward'),  # whole forward: preprocess, model, losses
    ('model', 'data_preprocessor', 'preprocess'),
    ('model', 'update_teacher', 'ema'),
    ('model', 'parse_losses', 'loss parse + finite check'),
    ('optim', 'backward', 'backward'),
    ('optim', 'step', 'optimizer.step'),
    ('optim', 'zero_grad', 'optimizer.zero_grad'),
)
#: methods of any direct child of the model timed under a region, e.g. the
#: grouping loss's centre update (SlotCon, DINO-style losses)
CHILD_METHOD_REGIONS = (('update_center', 'centre'), )

Log = Callable[[str], None]


# --------------------------------------------------------------------------
# config helpers
# --------------------------------------------------------------------------
def load_benchmark_config(config, cfg_options: Optional[dict] = None):
    """The config (path or ``Config``), options merged, mmdense's scope set."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmdense.utils import register_all_modules
    cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdense'))
    return cfg


def _train_pipeline(cfg) -> list:
    try:
        pipeline = cfg.train_dataloader.dataset.pipeline
    except AttributeError:
        pipeline = None
    if not pipeline:
        raise ValueError('the config has no train_dataloader.dataset.pipeline')
    return [copy.deepcopy(t) for t in pipeline]


def _find_transform(pipeline, names: Sequence[str]) -> Optional[dict]:
    """The first transform config whose type is one of ``names``
    (searching ``RandomApply`` / ``ViewwisePipeline`` contents too)."""
    for t in pipeline or []:
        if not isinstance(t, dict):
            continue
        kind = str(t.get('type', '')).split('.')[-1]
        if kind in names:
            return t
        for key in ('transforms', ):
            found = _find_transform(t.get(key), names)
            if found is not None:
                return found
    return None


def view_layout(cfg, img_size: Optional[int] = None) -> List[int]:
    """Square size of every view of the config's multi-view crop, in order.

    ``img_size`` replaces the size of the first view group (the global
    views); other groups keep theirs. Without a multi-view crop: 2 views.
    """
    try:
        pipeline = _train_pipeline(cfg)
    except ValueError:
        pipeline = []
    crop = _find_transform(pipeline, ('MultiViewRandomResizedCrop', 'TwoViewRandomResizedCrop'))
    groups = []
    if crop is not None:
        if 'view_groups' in crop:
            groups = [(int(g.get('num_views', 1)), g.get('size', 224)) for g in crop['view_groups']]
        else:
            groups = [(int(crop.get('num_views', 2)), crop.get('size', 224))]
    if not groups:
        groups = [(2, 224)]
    sizes = []
    for i, (num, size) in enumerate(groups):
        size = size[0] if isinstance(size, (tuple, list)) else size
        if i == 0 and img_size is not None:
            size = img_size
        sizes += [int(size)] * num
    return sizes


def optim_wrapper_for_precision(cfg, precision: str, device: str) -> dict:
    """The config's ``optim_wrapper`` at ``precision`` on ``device``.

    fp32: ``OptimWrapper`` (AMP keys dropped). bf16: ``CPUAmpOptimWrapper``
    with ``force=True`` on CPU (asked for explicitly, so it runs even where
    bf16 is emulated), ``AmpOptimWrapper(dtype='bfloat16')`` on a GPU. A
    config that clips per parameter (``clip_grad.per_parameter``, CrOC)
    keeps it: ``PerParamClipOptimWrapper`` / ``PerParamClipAmpOptimWrapper``
    (``CPUAmpOptimWrapper`` clips per parameter itself).
    """
    if cfg.get('optim_wrapper') is None:
        raise ValueError('the config has no optim_wrapper')
    from mmdense.engine.optimizers import AMP_WRAPPERS, optim_wrapper_type
    wrapper = copy.deepcopy(dict(cfg.optim_wrapper))
    kind = str(wrapper.get('type', 'OptimWrapper')).split('.')[-1]
    amp_keys = ('loss_scale', 'dtype', 'force', 'use_fsdp')
    if precision == 'fp32' and kind not in AMP_WRAPPERS:
        return wrapper
    accelerator = device.startswith('cuda')
    wrapper['type'] = optim_wrapper_type(wrapper, amp=precision != 'fp32', accelerator=accelerator)
    for key in amp_keys:
        wrapper.pop(key, None)
    if precision != 'fp32':
        wrapper.update(dtype='bfloat16', **({} if accelerator else dict(force=True)))
    return wrapper


def _ratios(results: dict, prefer: Optional[str] = None) -> None:
    subject = results['subject']
    refs = results.get('references') or []
    results['ratios'] = OrderedDict()
    for ref in refs:
        if subject.get('img_per_s') and ref.get('img_per_s'):
            results['ratios'][ref['key']] = round(subject['img_per_s'] / ref['img_per_s'], 4)
    main = None
    for ref in refs:
        if ref['key'] == prefer:
            main = ref['key']
    if main is None and refs:
        main = refs[0]['key']
    results['ratio_vs'] = main
    results['ratio'] = results['ratios'].get(main) if main else None
