# Copyright (c) mmdense contributors. All rights reserved.
"""Stage ``data``: a config's training pipeline against PIL + torchvision v2."""
import glob
import os.path as osp
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from .common import DATA_CONVENTION, TARGETS, Log, _find_transform, _ratios, _train_pipeline
from .timing import _stats_summary, _time_interleaved

# --------------------------------------------------------------------------
# stage: data
# --------------------------------------------------------------------------
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def default_data_roots() -> List[str]:
    """Where the real COCO subset is looked for (first hit wins)."""
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    shared = osp.join(osp.dirname(repo), 'shared', 'data', 'coco_tiny')
    return [osp.join(shared, 'images'), osp.join(shared, 'train2017'),
            osp.join(repo, 'data', 'coco', 'train2017')]


def list_images(data_root: Optional[str] = None, limit: Optional[int] = None) -> List[str]:
    """Sorted image files of ``data_root`` (recursively when the folder itself
    holds none); without it, of the first of :func:`default_data_roots`
    that has images."""
    roots = [data_root] if data_root else default_data_roots()
    for root in roots:
        if not root or not osp.isdir(root):
            continue
        files = sorted(f for f in glob.glob(osp.join(root, '*'))
                       if f.lower().endswith(IMAGE_EXTS))
        if not files:
            files = sorted(f for f in glob.glob(osp.join(root, '**', '*'), recursive=True)
                           if f.lower().endswith(IMAGE_EXTS))
        if files:
            return files[:limit] if limit else files
    raise FileNotFoundError(f'no images found in {roots}; pass --data-root DIR')


def _pipeline_settings(pipeline) -> dict:
    """What the reference copies from the config's two-view pipeline."""
    crop = _find_transform(pipeline, ('MultiViewRandomResizedCrop', 'TwoViewRandomResizedCrop'))
    group = dict(size=224, scale=(0.08, 1.0), ratio=(3. / 4., 4. / 3.), flip_prob=0.5)
    if crop is not None:
        first = crop['view_groups'][0] if 'view_groups' in crop else crop
        for key in group:
            if key in first:
                group[key] = first[key]
    size = group['size'][0] if isinstance(group['size'], (tuple, list)) else group['size']
    settings = dict(size=int(size), scale=tuple(group['scale']), ratio=tuple(group['ratio']),
                    flip_prob=float(group['flip_prob']),
                    jitter=(0.4, 0.4, 0.2, 0.1), jitter_prob=0.8, gray_prob=0.2,
                    blur_prob=[1.0, 0.1], solarize_prob=[0.0, 0.2])
    viewwise = _find_transform(pipeline, ('ViewwisePipeline', ))
    views = (viewwise or {}).get('view_pipelines') or []
    for v, view in enumerate(views[:2]):
        blur = _find_transform(view, ('GaussianBlur', 'FastGaussianBlur'))
        if blur is not None:
            settings['blur_prob'][v] = float(blur.get('prob', 1.0))
        sol = _find_transform(view, ('Solarize', ))
        if sol is not None:
            settings['solarize_prob'][v] = float(sol.get('prob', 1.0))
        if v == 0:
            jitter = _find_transform(view, ('ColorJitter', 'FastColorJitter'))
            if jitter is not None:
                settings['jitter'] = tuple(float(jitter.get(k, 0.)) for k in
                                           ('brightness', 'contrast', 'saturation', 'hue'))
            for t in view:
                if str(t.get('type', '')).endswith('RandomApply'):
                    settings['jitter_prob'] = float(t.get('prob', 0.8))
            gray = _find_transform(view, ('RandomGrayscale', ))
            if gray is not None:
                settings['gray_prob'] = float(gray.get('prob', 0.2))
    return settings


def reference_two_view_transform(settings: dict):
    """PIL image -> two uint8 tensor views with ``torchvision.transforms.v2``."""
    from torchvision.transforms import InterpolationMode, v2
    size = settings['size']
    kernel = max(3, int(0.1 * size) // 2 * 2 + 1)  # BYOL: 23 at 224

    def view(blur_p: float, sol_p: float):
        return v2.Compose([
            v2.RandomResizedCrop(size, scale=settings['scale'], ratio=settings['ratio'],
                                 interpolation=InterpolationMode.BICUBIC, antialias=True),
            v2.RandomHorizontalFlip(settings['flip_prob']),
            v2.RandomApply([v2.ColorJitter(*settings['jitter'])], p=settings['jitter_prob']),
            v2.RandomGrayscale(settings['gray_prob']),
            v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=blur_p),
            v2.RandomSolarize(128, p=sol_p),
            v2.ToImage(),  # uint8 (C, H, W)
        ])

    views = [view(settings['blur_prob'][i], settings['solarize_prob'][i]) for i in range(2)]

    def transform(img):
        return [t(img) for t in views]

    return transform


@contextmanager
def _single_thread():
    """torch and OpenCV on one thread (the data stage is per core)."""
    old_torch = torch.get_num_threads()
    try:
        import cv2
        old_cv2 = cv2.getNumThreads()
    except Exception:  # pragma: no cover
        cv2, old_cv2 = None, None
    torch.set_num_threads(1)
    if cv2 is not None:
        cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old_torch)
        if cv2 is not None:
            cv2.setNumThreads(old_cv2)


def bench_data(cfg, iters: int, warmup: int, data_root: Optional[str] = None,
               num_images: Optional[int] = None, img_size: Optional[int] = None,
               seed: int = 0, reference: bool = True, log: Log = print) -> dict:
    """The ``data`` stage (see the module docstring)."""
    import random

    from mmengine.dataset import Compose
    from PIL import Image

    files = list_images(data_root, num_images)
    pipeline_cfg = _train_pipeline(cfg)
    if img_size is not None:
        crop = _find_transform(pipeline_cfg, ('MultiViewRandomResizedCrop',
                                              'TwoViewRandomResizedCrop'))
        if crop is not None and 'view_groups' in crop:
            crop['view_groups'][0]['size'] = int(img_size)
        elif crop is not None:
            crop['size'] = int(img_size)
    first = str(pipeline_cfg[0].get('type', '')) if pipeline_cfg else ''
    loads = 'Load' in first
    pipeline = Compose(pipeline_cfg)
    settings = _pipeline_settings(pipeline_cfg)
    results: Dict[str, object] = OrderedDict(
        data_root=osp.dirname(files[0]), num_files=len(files), view_size=settings['size'],
        convention=DATA_CONVENTION,
        decode='the pipeline\'s own loading transform' if loads else
        'mmcv.imread (BGR, cv2) before the pipeline: it has no loading transform')

    def subject_one(i: int):
        path = files[i % len(files)]
        if loads:
            out = pipeline(dict(img_path=path, sample_idx=i))
        else:
            import mmcv
            img = mmcv.imread(path, channel_order='bgr')
            out = pipeline(dict(img=img, img_path=path, img_shape=img.shape[:2],
                                ori_shape=img.shape[:2], sample_idx=i))
        if out is None:
            raise RuntimeError(f'the pipeline dropped {path}')
        return out

    transform = reference_two_view_transform(settings)

    def reference_one(i: int):
        with Image.open(files[i % len(files)]) as img:
            return transform(img.convert('RGB'))

    counters = dict(subject=iter(range(10**9)), reference=iter(range(10**9)))
    paths: Dict[str, Callable[[], object]] = OrderedDict(
        subject=lambda: subject_one(next(counters['subject'])))
    if reference:
        paths['pil_tv2'] = lambda: reference_one(next(counters['reference']))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    log(f'[data] {len(files)} files; {warmup} warm-up image(s) each, then {iters} images '
        'per path, interleaved, one thread')
    with _single_thread():
        stats = _time_interleaved(paths, iters, warmup, lambda: None)
    names = ' -> '.join(str(t.get('type')) for t in pipeline_cfg)
    results['subject'] = _stats_summary(f'config pipeline: {names}', stats['subject'], 1, 1)
    refs = []
    if reference:
        refs.append(_stats_summary(
            'PIL decode + torchvision.transforms.v2 (RandomResizedCrop bicubic antialias, flip, '
            'ColorJitter p.8, grayscale .2, blur, solarize, ToImage uint8), two views',
            stats['pil_tv2'], 1, 1, key='pil_tv2',
            settings={k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}))
    results['references'] = refs
    _ratios(results)
    ratio = results.get('ratio')
    results['target'] = dict(text=TARGETS['data']['text'], ratio=ratio,
                             met=None if ratio is None else bool(ratio >= TARGETS['data']
                                                                 ['min_ratio']))
    return results
