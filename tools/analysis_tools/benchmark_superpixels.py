# Copyright (c) mmdense contributors. All rights reserved.
"""SLIC backends side by side: OpenCV-contrib vs scikit-image (ViCE).

Images are resized so their long side is ``--size`` (512), then each backend
segments every image with region size 20, ruler / compactness 10, 5
iterations, on one core (``cv2.setNumThreads(1)``). Timing is interleaved
(backend A on image i, then backend B on image i), so machine load affects
both sides alike; report the load average next to the numbers.

Printed per backend: images/s per core, regions per image, mean region area,
and how well regions follow colour (mean within-region standard deviation of
the Lab image, lower = more homogeneous regions), plus the agreement of the
two partitions (achievable segmentation accuracy of one in the other).

    python tools/analysis_tools/benchmark_superpixels.py /work/shared/data/coco_tiny/train2017
    # with opencv-contrib outside the environment:
    PYTHONPATH=/path/to/opencv-contrib python tools/analysis_tools/benchmark_superpixels.py ...
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from mmdense.datasets.transforms.superpixels import has_opencv_slic, slic_superpixels  # noqa

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='SLIC backend benchmark')
    parser.add_argument('img_dir')
    parser.add_argument('--size', type=int, default=512, help='long side in pixels')
    parser.add_argument('--num-images', type=int, default=40)
    parser.add_argument('--repeats', type=int, default=1)
    parser.add_argument('--region-size', type=int, default=20)
    parser.add_argument('--ruler', type=float, default=10.)
    parser.add_argument('--num-iters', type=int, default=5)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def load_images(img_dir: str, size: int, num: int) -> List[np.ndarray]:
    names = sorted(f for f in os.listdir(img_dir) if f.lower().endswith(IMAGE_SUFFIXES))[:num]
    images = []
    for name in names:
        img = cv2.imread(osp.join(img_dir, name), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f'cannot read image {osp.join(img_dir, name)}')
        scale = size / max(img.shape[:2])
        images.append(cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                                 interpolation=cv2.INTER_AREA))
    return images


def colour_spread(img: np.ndarray, labels: np.ndarray) -> float:
    """Mean (over regions, pixel-weighted) of the within-region Lab std."""
    lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float64)
    ids = labels.ravel()
    counts = np.bincount(ids).astype(np.float64)
    var = 0.
    for c in range(3):
        s1 = np.bincount(ids, lab[:, c])
        s2 = np.bincount(ids, lab[:, c] ** 2)
        var = var + (s2 - s1 ** 2 / np.maximum(counts, 1))
    return float(np.sqrt(var.sum() / ids.size / 3))


def asa(labels: np.ndarray, reference: np.ndarray) -> float:
    """Achievable segmentation accuracy of ``labels`` in ``reference``."""
    stride = int(reference.max()) + 1
    joint = labels.ravel().astype(np.int64) * stride + reference.ravel()
    keys, counts = np.unique(joint, return_counts=True)
    best = np.zeros(int(labels.max()) + 1)
    np.maximum.at(best, keys // stride, counts)  # each region's largest overlap
    return float(best.sum() / labels.size)


def run(args: argparse.Namespace) -> Dict[str, dict]:
    cv2.setNumThreads(1)
    backends = ['skimage'] + (['opencv'] if has_opencv_slic() else [])
    images = load_images(args.img_dir, args.size, args.num_images)
    stats = {b: dict(seconds=0., regions=[], spread=[]) for b in backends}
    agreement = []
    kwargs = dict(region_size=args.region_size, ruler=args.ruler, num_iters=args.num_iters)
    for _ in range(args.repeats):
        for img in images:
            outputs = {}
            for backend in backends:
                start = time.perf_counter()
                labels = slic_superpixels(img, backend=backend, **kwargs)
                stats[backend]['seconds'] += time.perf_counter() - start
                outputs[backend] = labels
            if len(backends) == 2:
                agreement.append(asa(outputs['skimage'], outputs['opencv']))
            for backend, labels in outputs.items():
                stats[backend]['regions'].append(int(labels.max()) + 1)
                stats[backend]['spread'].append(colour_spread(img, labels))
    pixels = float(np.mean([im.shape[0] * im.shape[1] for im in images]))
    report = {}
    for backend, s in stats.items():
        count = len(images) * args.repeats
        report[backend] = dict(
            images_per_s_per_core=round(count / s['seconds'], 2),
            regions_per_image=round(float(np.mean(s['regions'])), 1),
            mean_region_area_px=round(pixels / float(np.mean(s['regions'])), 1),
            lab_spread_within_regions=round(float(np.mean(s['spread'])), 2))
    if agreement:
        report['asa_skimage_in_opencv'] = round(float(np.mean(agreement)), 4)
    report['images'] = len(images)
    report['size'] = args.size
    report['load_average'] = os.getloadavg()
    return report


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    report = run(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return report


if __name__ == '__main__':
    main()
