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
        configs/slotcon/slotcon_resnet18-narrow_1xb32-400iters_synthetic.py work_dirs/demo/iter_400.pth \\
        --out work_dirs/demo/concepts --topk 8 --num-images 256

For the paper's setting (COCO val2017, K = 256 model, resize 256 + centre crop
224) point ``--cfg-options`` at such a test pipeline. A method without
prototypes (or any method, with ``--kmeans K``) is shown on K k-means
centroids of its dense features (``--feature-source``) instead.
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

from mmdense.apis import add_model_args, load_model_and_loader  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the top segments of every prototype')
    add_model_args(parser)  # config, checkpoint, --num-images, --device ...
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--topk', type=int, default=8,
                        help='segments per prototype (default: 8)')
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
    parser.add_argument(
        '--kmeans', type=int, metavar='K',
        help='show K k-means centroids of the dense features instead of the '
        "model's prototypes (required for a method without prototypes)")
    parser.add_argument('--feature-source', default='auto',
                        help="--kmeans: the model's dense stage to cluster "
                        '(default: auto)')
    parser.add_argument('--kmeans-seed', type=int, default=0,
                        help='--kmeans: k-means seed (default: 0)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.topk < 1:
        raise SystemExit('--topk must be >= 1')
    if args.kmeans is not None and args.kmeans < 2:
        raise SystemExit('--kmeans must be >= 2')

    import numpy as np

    from mmdense.visualization.concepts import (dataset_image, dataset_overlay,
                                                discover_concepts, draw_concept_grid,
                                                fit_concept_centroids, prototype_palette,
                                                save_png)
    model, loader, _ = load_model_and_loader(args)
    if args.kmeans is None and model.num_clusters is None:
        raise SystemExit(f'{type(model).__name__} has no prototypes: pass --kmeans K to show '
                         'k-means concepts of its dense features')
    centroids = None
    if args.kmeans is not None:
        centroids = fit_concept_centroids(model, loader, args.kmeans, stage=args.feature_source,
                                          seed=args.kmeans_seed, max_images=args.max_images)
    dataset = loader.dataset

    concepts, num_seen = discover_concepts(
        model, loader, topk=args.topk, min_area=args.min_area, centroids=centroids,
        stage=args.feature_source)
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
            panel = dataset_overlay(model, dataset, idx, palette, gt_palette, centroids,
                                    args.feature_source)
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
        concept_source='prototypes' if centroids is None else 'kmeans',
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
