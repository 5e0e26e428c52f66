# Copyright (c) mmdense contributors. All rights reserved.
"""Visual concept discovery (SlotCon A.4): the top segments of every prototype.

Every pixel of the config's test images gets its argmax prototype; a segment is
the pixels of one prototype in one image, scored by the mean cosine between its
pixels and the prototype. For every prototype the ``--topk`` best segments are
drawn as one row of a grid (``concepts.png``; ``concepts_001.png``... when
there are more than ``--rows-per-page`` prototypes), and the first
``--num-overlays`` images are drawn with their prototype assignment
(``overlays/``: image | assignment blended in palette colours | ground truth).
``concepts.json`` lists every kept segment (prototype, score, image).

Example::

    python tools/analysis_tools/visualize_concepts.py \\
        configs/slotcon/r18_synthetic_demo.py work_dirs/demo/iter_400.pth \\
        --out work_dirs/demo/concepts --topk 8 --num-images 256

For the paper's setting (COCO val2017, K = 256 model, resize 256 + centre crop
224) point ``--cfg-options`` at such a test pipeline.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from mmengine.config import Config, DictAction  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the top segments of every prototype')
    parser.add_argument('config', help='model config with a test_dataloader')
    parser.add_argument(
        'checkpoint', help="checkpoint file, or 'none' for the initial weights")
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--topk', type=int, default=8,
                        help='segments per prototype (default: 8)')
    parser.add_argument('--num-images', type=int,
                        help='search the first N test images (default: all)')
    parser.add_argument('--tile-size', type=int, default=96,
                        help='grid tile side in pixels (default: 96)')
    parser.add_argument('--rows-per-page', type=int, default=32,
                        help='prototypes per grid PNG (default: 32)')
    parser.add_argument('--skip-empty', action='store_true',
                        help='leave out prototypes without any segment')
    parser.add_argument('--min-area', type=float, default=0.005,
                        help='ignore segments smaller than this fraction of '
                        'the image (default: 0.005)')
    parser.add_argument(
        '--max-colors', type=int,
        help='write palette PNGs of at most this many colours (smaller '
        'files, e.g. 128 for docs; default: full colour)')
    parser.add_argument('--num-overlays', type=int, default=4,
                        help='per-image assignment overlays (default: 4)')
    parser.add_argument('--batch-size', type=int,
                        help='override test_dataloader.batch_size')
    parser.add_argument('--num-workers', type=int,
                        help='override test_dataloader.num_workers')
    parser.add_argument('--device', help='cpu / cuda (default: cuda if any)')
    parser.add_argument(
        '--init-seed', type=int, default=0,
        help="torch seed of the initial weights with checkpoint 'none'")
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. test_dataloader.batch_size=8')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.topk < 1:
        raise SystemExit('--topk must be >= 1')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)

    import numpy as np

    from mmdense.evaluation.dense_features import (build_model_from_config,
                                                   build_test_dataloader)
    from mmdense.visualization.concepts import (discover_concepts,
                                                dataset_image,
                                                dataset_overlay,
                                                draw_concept_grid,
                                                prototype_palette, save_png)
    checkpoint = None if args.checkpoint.lower() == 'none' else \
        args.checkpoint
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    model = build_model_from_config(cfg, checkpoint, args.device,
                                    args.init_seed)
    loader = build_test_dataloader(cfg, args.num_images, args.batch_size,
                                   args.num_workers)
    dataset = loader.dataset

    concepts, num_seen = discover_concepts(
        model, loader, topk=args.topk, min_area=args.min_area)
    num_protos = len(concepts)
    palette = prototype_palette(num_protos)
    prototypes = [p for p in range(num_protos)
                  if concepts[p] or not args.skip_empty]
    images = {
        seg.index: dataset_image(dataset, seg.index)
        for segs in concepts.values() for seg in segs
    }

    os.makedirs(args.out, exist_ok=True)
    pages = []
    per_page = max(1, args.rows_per_page)
    for page, start in enumerate(range(0, max(len(prototypes), 1),
                                       per_page)):
        rows = prototypes[start:start + per_page]
        if not rows:
            break
        grid = draw_concept_grid(concepts, images, rows, args.topk,
                                 tile=args.tile_size, palette=palette)
        name = 'concepts.png' if page == 0 else f'concepts_{page:03d}.png'
        path = osp.join(args.out, name)
        save_png(path, grid, args.max_colors)
        pages.append(path)

    overlays = []
    if args.num_overlays > 0:
        os.makedirs(osp.join(args.out, 'overlays'), exist_ok=True)
        classes = dataset.metainfo.get('palette')
        gt_palette = None if classes is None else \
            np.array(classes, np.uint8)[:, ::-1].copy()  # RGB -> BGR
        panels = []
        for idx in range(min(args.num_overlays, len(dataset))):
            panel = dataset_overlay(model, dataset, idx, palette, gt_palette)
            path = osp.join(args.out, 'overlays', f'{idx:04d}.png')
            save_png(path, panel, args.max_colors)
            overlays.append(path)
            panels.append(panel)
        if len({p.shape for p in panels}) == 1:  # all in one PNG, for docs
            gap = np.full((2, ) + panels[0].shape[1:], 255, np.uint8)
            stacked = [panels[0]]
            for panel in panels[1:]:
                stacked += [gap, panel]
            path = osp.join(args.out, 'overlays.png')
            save_png(path, np.concatenate(stacked), args.max_colors)
            overlays.append(path)

    summary = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        num_images=num_seen,
        num_prototypes=num_protos,
        topk=args.topk,
        grids=pages,
        overlays=overlays,
        concepts={
            str(p): [
                dict(score=round(s.score, 4), index=s.index,
                     area=round(s.area, 4),
                     img_path=str(dataset.get_data_info(s.index).get(
                         'img_path', '')) if hasattr(dataset, 'get_data_info')
                     else '') for s in segs
            ]
            for p, segs in concepts.items()
        })
    with open(osp.join(args.out, 'concepts.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print(f'[visualize_concepts] {num_seen} images, {num_protos} prototypes: '
          f'{len(pages)} grid(s) and {len(overlays)} overlay(s) in {args.out}',
          flush=True)
    return summary


if __name__ == '__main__':
    main()
