# Copyright (c) mmdense contributors. All rights reserved.
"""Convert COCO-Stuff 164k labels to COCO-Stuff-27 (27 coarse classes).

Input: COCO-Stuff 164k, i.e. the COCO 2017 images and the ``stuffthingmaps``
label PNGs (fine ids 0..181 = COCO category id - 1, 255 = unlabeled)::

    STUFF_ROOT/images/val2017/000000000139.jpg
    STUFF_ROOT/annotations/val2017/000000000139.png

(mmsegmentation's ``coco_stuff164k`` layout: ``stuffthingmaps_trainval2017.zip``
unzipped into ``annotations/``; ``stuffthingmaps_trainval2017/<split>`` and
``<split>`` for the images are found too, or pass ``--img-dir/--ann-dir``).

Output, read by ``CocoStuff27Dataset``::

    OUT_DIR/annotations/val2017/000000000139.png  27-class labels (0..26, 255)
    OUT_DIR/image_lists/val2017.txt               the converted image names
    OUT_DIR/images/val2017 -> STUFF_ROOT/images/val2017   (a symlink)

The benchmark (PiCIE, STEGO, SlotCon) evaluates on PiCIE's curated lists:
49,629 train / 2,175 val images (``Coco164kFull_Stuff_Coarse_7.txt`` of
PiCIE's ``curated/{train2017,val2017}/``). Pass one with ``--image-list``
(one image per line: ``000000000139``, ``000000000139.jpg`` or ``139``).
Without it every image of the split is converted, with a warning: numbers on
that set are not comparable with the papers'.

Examples::

    python tools/dataset_converters/cocostuff27.py \\
        --stuff-root data/coco_stuff164k --out-dir data/coco_stuff27 \\
        --split val2017 --image-list curated/val2017/Coco164kFull_Stuff_Coarse_7.txt
    python tools/dataset_converters/cocostuff27.py \\
        --stuff-root data/coco_stuff164k --out-dir data/coco_stuff27 \\
        --split train2017 --image-list curated/train2017/Coco164kFull_Stuff_Coarse_7.txt --nproc 8
"""
import argparse
import logging
import os
import os.path as osp
import sys
from functools import partial
from typing import List, Optional, Sequence

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from mmengine.logging import print_log  # noqa: E402
from mmengine.utils import track_parallel_progress, track_progress  # noqa: E402

from mmdense.datasets.coco_stuff27 import map_fine_to_coarse  # noqa: E402

PICIE_CURATED_SIZES = {'train2017': 49629, 'val2017': 2175}
IMG_SUFFIXES = ('.jpg', '.jpeg', '.png')


def read_image_list(path: str) -> List[str]:
    """Image names (no directory, no extension) of a curated list.

    Blank lines and ``#`` comments are skipped; purely numeric ids are
    zero-padded to COCO's 12 digits; repeated names are kept once.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image list not found: {path}')
    names, seen = [], set()
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            name = osp.basename(line.split()[0])
            stem, ext = osp.splitext(name)
            if ext.lower() in IMG_SUFFIXES:
                name = stem
            if name.isdigit():
                name = name.zfill(12)
            if name not in seen:
                seen.add(name)
                names.append(name)
    if not names:
        raise ValueError(f'image list {path} holds no image names')
    return names


def _find_dir(root: str, candidates: Sequence[str], what: str) -> str:
    """The first existing ``root/candidate``, else an error naming them."""
    tried = [osp.join(root, c) for c in candidates]
    for path in tried:
        if osp.isdir(path):
            return path
    raise FileNotFoundError(f'{what} directory not found; tried: ' +
                            ', '.join(tried))


def _list_images(img_dir: str) -> List[str]:
    """Sorted names (no extension) of the images in ``img_dir``."""
    names = [
        osp.splitext(f)[0] for f in os.listdir(img_dir)
        if osp.splitext(f)[1].lower() in IMG_SUFFIXES
    ]
    if not names:
        raise FileNotFoundError(f'no images (*.jpg / *.png) in {img_dir}')
    return sorted(names)


def convert_label(src: str, dst: str, on_invalid: str = 'error') -> None:
    """Read one fine label PNG, map it to 27 classes, write ``dst``."""
    import cv2
    if not osp.isfile(src):
        raise FileNotFoundError(f'label PNG not found: {src}')
    fine = cv2.imread(src, cv2.IMREAD_UNCHANGED)
    if fine is None:
        raise ValueError(f'could not read {src} as an image')
    if fine.ndim == 3:  # a label map saved with 3 equal channels
        if not (np.array_equal(fine[..., 0], fine[..., 1])
                and np.array_equal(fine[..., 0], fine[..., 2])):
            raise ValueError(f'{src}: expected a single-channel label PNG, '
                             f'got {fine.shape[2]} different channels')
        fine = fine[..., 0]
    coarse = map_fine_to_coarse(fine, on_invalid=on_invalid, name=src)
    if not cv2.imwrite(dst, coarse):
        raise OSError(f'could not write {dst}')


def _convert_one(name: str, ann_dir: str, out_ann_dir: str,
                 on_invalid: str) -> str:
    convert_label(
        osp.join(ann_dir, name + '.png'),
        osp.join(out_ann_dir, name + '.png'), on_invalid)
    return name


def _link_images(img_dir: str, out_img_dir: str) -> str:
    """Symlink ``out_img_dir`` to ``img_dir``; returns what was done."""
    target = osp.abspath(img_dir)
    if osp.islink(out_img_dir):
        if osp.realpath(out_img_dir) == osp.realpath(target):
            return 'kept'
        os.remove(out_img_dir)
    elif osp.exists(out_img_dir):
        return 'exists'  # a real directory: leave the user's files alone
    os.makedirs(osp.dirname(out_img_dir), exist_ok=True)
    os.symlink(target, out_img_dir, target_is_directory=True)
    return 'linked'


def convert(stuff_root: str,
            out_dir: str,
            split: str = 'val2017',
            image_list: Optional[str] = None,
            img_dir: Optional[str] = None,
            ann_dir: Optional[str] = None,
            on_invalid: str = 'error',
            nproc: int = 1,
            link_images: bool = True) -> dict:
    """Convert one split of COCO-Stuff 164k to COCO-Stuff-27.

    Args:
        stuff_root (str): COCO-Stuff 164k root (see the module docstring).
        out_dir (str): Output root.
        split (str): ``'val2017'`` or ``'train2017'``. Defaults to val2017.
        image_list (str, optional): Curated list of the images to convert.
            None converts every image of ``img_dir`` and logs a warning.
        img_dir (str, optional): Image directory; found under
            ``stuff_root`` if None.
        ann_dir (str, optional): Fine label PNG directory; found under
            ``stuff_root`` if None.
        on_invalid (str): ``'error'`` (default) stops at a PNG holding
            values other than 0..181 and 255, naming the file; ``'ignore'``
            maps those pixels to 255.
        nproc (int): Worker processes. Defaults to 1.
        link_images (bool): Symlink ``out_dir/images/<split>`` to the images.

    Returns:
        dict: ``num_images``, ``image_list`` (the list given, or None),
        ``list_file`` (the written list), ``ann_dir`` (written labels) and
        ``images`` (``'linked'``, ``'kept'``, ``'exists'`` or ``'skipped'``).
    """
    if not osp.isdir(stuff_root):
        raise FileNotFoundError(f'--stuff-root not found: {stuff_root}')
    img_dir = img_dir or _find_dir(stuff_root, [f'images/{split}', split],
                                   'image')
    ann_dir = ann_dir or _find_dir(
        stuff_root, [
            f'annotations/{split}', f'stuffthingmaps_trainval2017/{split}',
            f'stuffthingmaps/{split}'
        ], 'label PNG')
    for path, what in ((img_dir, 'image'), (ann_dir, 'label PNG')):
        if not osp.isdir(path):
            raise FileNotFoundError(f'{what} directory not found: {path}')

    if image_list is not None:
        names = read_image_list(image_list)
        expected = PICIE_CURATED_SIZES.get(split)
        note = (f' (PiCIE\'s curated {split} list has {expected})'
                if expected and expected != len(names) else '')
        print_log(f'{len(names)} images listed in {image_list}{note}',
                  logger='current')
    else:
        names = _list_images(img_dir)
        print_log(
            f'no --image-list given: converting all {len(names)} images of '
            f'{img_dir}. The COCO-Stuff-27 benchmark uses PiCIE\'s curated '
            f'lists (2,175 val / 49,629 train images); numbers on all of '
            f'{split} are not comparable with the papers\'.',
            logger='current',
            level=logging.WARNING)
    # every listed image and label must exist before anything is written
    for name in names:
        label = osp.join(ann_dir, name + '.png')
        if not osp.isfile(label):
            raise FileNotFoundError(
                f'label PNG of image {name!r} not found: {label}')
        if not any(
                osp.isfile(osp.join(img_dir, name + suffix))
                for suffix in IMG_SUFFIXES):
            raise FileNotFoundError(f'image {name!r} not found: ' +
                                    osp.join(img_dir, name + '.jpg'))

    out_ann_dir = osp.join(out_dir, 'annotations', split)
    os.makedirs(out_ann_dir, exist_ok=True)
    worker = partial(_convert_one, ann_dir=ann_dir, out_ann_dir=out_ann_dir,
                     on_invalid=on_invalid)
    if nproc > 1:
        track_parallel_progress(worker, names, nproc)
    else:
        track_progress(worker, names)

    list_file = osp.join(out_dir, 'image_lists', f'{split}.txt')
    os.makedirs(osp.dirname(list_file), exist_ok=True)
    with open(list_file, 'w') as f:
        f.writelines(name + '\n' for name in names)
    images = _link_images(img_dir, osp.join(out_dir, 'images', split)) \
        if link_images else 'skipped'
    print_log(
        f'wrote {len(names)} label maps to {out_ann_dir} and the list to '
        f'{list_file}', logger='current')
    return dict(
        num_images=len(names),
        image_list=image_list,
        list_file=list_file,
        ann_dir=out_ann_dir,
        images=images)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert COCO-Stuff 164k labels to COCO-Stuff-27')
    parser.add_argument('--stuff-root', required=True,
                        help='COCO-Stuff 164k root (images/, annotations/)')
    parser.add_argument('--out-dir', required=True, help='output root')
    parser.add_argument('--split', default='val2017',
                        help='split to convert (default: val2017)')
    parser.add_argument(
        '--image-list',
        help='curated image list (PiCIE); without it all images of the '
        'split are converted (not the benchmark protocol)')
    parser.add_argument('--img-dir', help='image directory override')
    parser.add_argument('--ann-dir', help='fine label PNG directory override')
    parser.add_argument(
        '--on-invalid', choices=['error', 'ignore'], default='error',
        help='label values outside 0..181/255: stop with an error naming '
        'the file (default) or map them to 255')
    parser.add_argument('--nproc', type=int, default=1,
                        help='worker processes (default: 1)')
    parser.add_argument('--no-link-images', action='store_true',
                        help='do not symlink OUT_DIR/images/<split>')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    return convert(
        args.stuff_root,
        args.out_dir,
        split=args.split,
        image_list=args.image_list,
        img_dir=args.img_dir,
        ann_dir=args.ann_dir,
        on_invalid=args.on_invalid,
        nproc=args.nproc,
        link_images=not args.no_link_images)


if __name__ == '__main__':
    main()
