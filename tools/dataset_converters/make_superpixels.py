# Copyright (c) mmdense contributors. All rights reserved.
"""Precompute SLIC region maps for a folder of images (ViCE's cache).

One compressed ``.npz`` per image (key ``superpixels``, uint16 ids), at
``OUT_DIR/<image path relative to IMG_DIR, extension .npz>`` — the path
``Superpixels(cache_dir=OUT_DIR, img_root=IMG_DIR)`` reads. Resumable: an
image whose file already exists is skipped (files are written atomically, so
an interrupted run leaves no partial file). Unreadable images are reported
at the end (and the exit status is 1); ``--strict`` stops at the first.

    python tools/dataset_converters/make_superpixels.py IMG_DIR OUT_DIR \\
        [--region-size 20] [--ruler 10] [--num-iters 5] [--backend auto] [--nproc 4]
"""
import argparse
import os
import os.path as osp
import sys
from multiprocessing import Pool
from typing import List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from tqdm import tqdm  # noqa: E402

from mmdense.datasets.transforms.superpixels import (Superpixels, save_superpixels,  # noqa: E402
                                                     superpixel_cache_path)

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='precompute SLIC region maps')
    parser.add_argument('img_dir', help='folder of images (searched recursively)')
    parser.add_argument('out_dir', help='where the .npz region maps go')
    parser.add_argument('--region-size', type=int, default=20)
    parser.add_argument('--ruler', type=float, default=10.)
    parser.add_argument('--num-iters', type=int, default=5)
    parser.add_argument('--blur-size', type=int, default=3)
    parser.add_argument('--backend', default='auto', choices=['auto', 'opencv', 'skimage'])
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--strict', action='store_true',
                        help='stop at the first unreadable image (default: report them)')
    return parser.parse_args(argv)


def list_images(img_dir: str) -> List[str]:
    """Image files under ``img_dir``, sorted."""
    found = []
    for root, _, files in os.walk(img_dir):
        found += [osp.join(root, f) for f in files if f.lower().endswith(IMAGE_SUFFIXES)]
    return sorted(found)


_WORKER = {}


def _init(kwargs: dict) -> None:
    from mmdense.datasets.transforms import RobustLoadImageFromFile
    _WORKER['slic'] = Superpixels(**kwargs)
    _WORKER['load'] = RobustLoadImageFromFile()


def _convert(job: Tuple[str, str]) -> Optional[str]:
    """Write one map; returns an error message or None."""
    img_path, out_path = job
    try:
        img = _WORKER['load'](dict(img_path=img_path))['img']
        save_superpixels(out_path, _WORKER['slic'].compute(img))
    except Exception as err:  # reported with the file name, see main()
        return f'{img_path}: {type(err).__name__}: {err}'
    return None


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    slic_kwargs = dict(region_size=args.region_size, ruler=args.ruler, num_iters=args.num_iters,
                       blur_size=args.blur_size, backend=args.backend)
    images = list_images(args.img_dir)
    jobs = [(p, superpixel_cache_path(p, args.out_dir, args.img_dir)) for p in images]
    todo = [job for job in jobs if not osp.isfile(job[1])]
    print(f'{len(images)} images, {len(images) - len(todo)} already done, {len(todo)} to go '
          f'(backend {Superpixels(**slic_kwargs).backend})', flush=True)
    errors = []
    if args.nproc > 1:
        with Pool(args.nproc, initializer=_init, initargs=(slic_kwargs, )) as pool:
            results = pool.imap_unordered(_convert, todo, chunksize=4)
            for error in tqdm(results, total=len(todo), desc='superpixels'):
                if error and args.strict:
                    pool.terminate()
                    raise RuntimeError(error)
                if error:
                    errors.append(error)
    else:
        _init(slic_kwargs)
        for job in tqdm(todo, desc='superpixels'):
            error = _convert(job)
            if error and args.strict:
                raise RuntimeError(error)
            if error:
                errors.append(error)
    for error in errors:
        print(f'failed: {error}', file=sys.stderr)
    print(f'done: {len(todo) - len(errors)} written, {len(errors)} failed', flush=True)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
