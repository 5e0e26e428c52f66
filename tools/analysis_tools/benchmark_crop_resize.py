# Copyright (c) mmdense contributors. All rights reserved.
"""Crop-resize of the multi-view crop: OpenCV bicubic (old) vs antialiased (new).

Decodes real JPEGs once (decode excluded from every timing), samples two
SlotCon crops per image (RandomResizedCrop 224, scale (0.08, 1), ratio
(3/4, 4/3)) and times, on one core (OpenCV and torch single-threaded, as in
a dataloader worker):

- ``resize``: the resize of the crops only: ``cv2.INTER_CUBIC`` (the former
  default, ``antialias=False``), the antialiased resize now used by default
  (:func:`mmdense.datasets.transforms.multi_view.resize_antialiased`), and
  PIL's ``Image.resize(..., BICUBIC)`` (what the official pipeline runs);
- ``transform``: the whole ``MultiViewRandomResizedCrop`` per image
  (sampling, two cuts, resizes, flips): as it was before the antialiased
  resize (``before``: OpenCV bicubic and numpy's copy of the mirrored view),
  and now with ``antialias=False`` and ``True`` (the default).

It also prints how far each resize is from PIL (mean / max absolute
difference in grey levels, share of pixels within 1 level): from the
installed Pillow's one ``resize`` call, and from the Pillow of the official
runs (< 13: horizontal pass, then vertical; Pillow >= 13 may run the vertical
pass first, python-pillow/Pillow#9549), computed as two one-axis resizes.

Example::

    python tools/analysis_tools/benchmark_crop_resize.py \\
        --data-root ../shared/data/coco_tiny/train2017 --repeats 7
"""
import argparse
import glob
import os
import os.path as osp
import platform
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from mmdense.datasets.transforms.multi_view import (MultiViewRandomResizedCrop,  # noqa: E402
                                                    resize_antialiased, sample_resized_crop)



class _BeforeAntialias(MultiViewRandomResizedCrop):
    """The transform's cut as it was before the antialiased resize."""

    def _cut(self, img, crop, flipped, size, interpolation, antialias=False):
        x1, y1, x2, y2 = (int(v) for v in crop)
        patch = img[y1:y2, x1:x2]
        out_h, out_w = size
        view = cv2.resize(patch, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
        if flipped:
            view = view[:, ::-1]
        return np.ascontiguousarray(view)


DEFAULT_ROOT = osp.join(osp.dirname(REPO_ROOT), 'shared', 'data', 'coco_tiny', 'train2017')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default=DEFAULT_ROOT, help='folder of JPEGs')
    parser.add_argument('--num-images', type=int, default=0, help='0: all')
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--repeats', type=int, default=7, help='timed passes (min and median)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def timed(fns: dict, repeats: int) -> dict:
    """Interleaved passes over every function; seconds per pass."""
    times = {name: [] for name in fns}
    for name, fn in fns.items():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def main(argv=None):
    args = parse_args(argv)
    files = sorted(f for f in glob.glob(osp.join(args.data_root, '*'))
                   if f.lower().endswith(('.jpg', '.jpeg', '.png')))
    if args.num_images:
        files = files[:args.num_images]
    if not files:
        raise SystemExit(f'no images in {args.data_root}; pass --data-root DIR')
    cv2.setNumThreads(0)  # what mmengine sets in dataloader workers
    torch.set_num_threads(1)
    images = [cv2.imread(f, cv2.IMREAD_COLOR) for f in files]  # decode: not timed
    size = args.size
    rng = np.random.default_rng(args.seed)
    patches = []
    for img in images:
        h, w = img.shape[:2]
        for _ in range(2):
            x1, y1, x2, y2 = sample_resized_crop(rng, h, w, (0.08, 1.0), (3. / 4., 4. / 3.))
            patches.append(img[y1:y2, x1:x2])

    def cv2_cubic(p):
        return cv2.resize(p, (size, size), interpolation=cv2.INTER_CUBIC)

    def antialiased(p):
        return resize_antialiased(p, size, size, 'bicubic')

    def pil_bicubic(p):
        return np.asarray(Image.fromarray(np.ascontiguousarray(p)).resize((size, size),
                                                                          Image.BICUBIC))

    resizes = dict(cv2_bicubic_old=cv2_cubic, antialiased_new=antialiased, pil_bicubic=pil_bicubic)
    crop_before = _BeforeAntialias(view_groups=[dict(num_views=2, size=size)], seed=args.seed)
    crop_old = MultiViewRandomResizedCrop(view_groups=[dict(num_views=2, size=size)],
                                          antialias=False, seed=args.seed)
    crop_new = MultiViewRandomResizedCrop(view_groups=[dict(num_views=2, size=size)],
                                          antialias=True, seed=args.seed)
    passes = dict(
        {f'resize {k}': (lambda fn=fn: [fn(p) for p in patches]) for k, fn in resizes.items()},
        **{f'transform {k}': (lambda t=t: [t(dict(img=img)) for img in images])
           for k, t in (('before', crop_before), ('antialias=False', crop_old),
                        ('antialias=True', crop_new))})
    load = os.getloadavg() if hasattr(os, 'getloadavg') else (float('nan'), ) * 3
    print(f'CPU: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} '
          f'({torch.backends.cpu.get_cpu_capability()}), OpenCV {cv2.__version__}, '
          f'Pillow {Image.__version__}; one thread each')
    print(f'load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}')
    shapes = np.array([p.shape[:2] for p in patches])
    print(f'{len(images)} images ({osp.abspath(args.data_root)}), {len(patches)} crops, '
          f'mean crop {shapes[:, 1].mean():.0f} x {shapes[:, 0].mean():.0f} px -> {size} x {size}; '
          f'{args.repeats} passes, decode excluded')
    times = timed(passes, args.repeats)
    print(f'{"what":34s} {"min ms":>8s} {"median ms":>10s}  per')
    for name, ts in times.items():
        per, unit = (len(patches), 'view') if name.startswith('resize') else (len(images), 'image')
        ts = np.sort(np.array(ts)) * 1e3 / per
        print(f'{name:34s} {ts[0]:8.3f} {ts[len(ts) // 2]:10.3f}  {unit}')
    new_t = np.array(times['transform antialias=True'])
    for ref_name in ('before', 'antialias=False'):
        ref_t = np.array(times[f'transform {ref_name}'])
        print(f'transform antialias=True / {ref_name}: min {new_t.min() / ref_t.min():.2f}x, '
              f'median {np.median(new_t) / np.median(ref_t):.2f}x')
    def pil_horizontal_first(p):
        im = Image.fromarray(np.ascontiguousarray(p))
        return np.asarray(im.resize((size, p.shape[0]), Image.BICUBIC).resize((size, size),
                                                                              Image.BICUBIC))

    references = {'PIL (installed, one call)': pil_bicubic,
                  'PIL < 13 (official runs)': pil_horizontal_first}
    for ref_name, ref_fn in references.items():
        ref = [ref_fn(p).astype(np.int16) for p in patches]
        for name in ('cv2_bicubic_old', 'antialiased_new'):
            diffs = [np.abs(resizes[name](p).astype(np.int16) - r) for p, r in zip(patches, ref)]
            flat = np.concatenate([d.ravel() for d in diffs])
            print(f'{name:16s} vs {ref_name:26s}: mean |d| {flat.mean():.4f}, worst view mean '
                  f'{max(d.mean() for d in diffs):.3f}, max {flat.max()}, '
                  f'<= 1 level {100 * (flat <= 1).mean():.4f} %')
    load = os.getloadavg() if hasattr(os, 'getloadavg') else (float('nan'), ) * 3
    print(f'load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}')


if __name__ == '__main__':
    main()
