# Copyright (c) mmdense contributors. All rights reserved.
"""Unsupervised semantic segmentation of a checkpoint's frozen features.

Modes (see ``docs/benchmarks/unsupervised_segmentation.md``):

- ``prototype``: the model's per-pixel prototype argmax (SlotCon), Hungarian
  matching when K == C (SlotCon Table 5).
- ``kmeans``: faiss k-means over the L2-normalised dense features of the whole
  test set, Hungarian (K == C) or majority (K > C, over-clustering), mean and
  std over ``--seeds`` seeds (CrOC Table 3, ViCE Table 1, MaskContrast Table 4).
- ``object-kmeans``: MaskContrast's k-means over mean embeddings of salient
  objects; needs ``--saliency-dir`` (masks at the evaluated size) or, as an
  oracle sanity check, ``--saliency-classes``.

The config's ``test_dataloader`` must yield images and ``gt_sem_seg``
(``PackSegInputs``), e.g. ``configs/_base_/datasets/synthetic_scenes.py``.

Examples::

    python tools/analysis_tools/unsup_seg_eval.py \\
        configs/slotcon/r18_synthetic_demo.py work_dirs/demo/iter_400.pth --mode prototype
    python tools/analysis_tools/unsup_seg_eval.py CONFIG CKPT --mode kmeans \\
        --num-clusters 27 128 256 500 --seeds 5 --out kmeans.json
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
        description='Unsupervised segmentation evaluation of dense features')
    parser.add_argument('config', help='model config with a test_dataloader')
    parser.add_argument(
        'checkpoint', help="checkpoint file, or 'none' for the initial weights")
    parser.add_argument('--mode', choices=['prototype', 'kmeans',
                                           'object-kmeans'], default='kmeans')
    parser.add_argument(
        '--num-clusters', type=int, nargs='+',
        help='K values (default: the number of prototypes for prototype '
        'mode, the number of classes otherwise)')
    parser.add_argument('--num-classes', type=int,
                        help='C (default: from the dataset metainfo)')
    parser.add_argument('--seeds', type=int, default=5,
                        help='k-means seeds 0..N-1 (default: 5)')
    parser.add_argument('--niter', type=int, default=30,
                        help='k-means iterations (default: 30)')
    parser.add_argument(
        '--max-fit-samples', type=int, default=1_000_000,
        help='fit k-means on at most this many feature vectors (all are '
        'assigned; default: 1,000,000)')
    parser.add_argument('--feature-source', default='auto',
                        choices=['auto', 'neck', 'backbone'],
                        help='dense features to cluster (default: auto)')
    parser.add_argument('--matching', default='auto',
                        choices=['auto', 'hungarian', 'majority'],
                        help='auto: Hungarian if K == C else majority')
    parser.add_argument('--saliency-dir',
                        help='object-kmeans: <image stem>.png object masks '
                        '(0 = background) at the evaluated size')
    parser.add_argument(
        '--saliency-classes', type=int, nargs='+',
        help='object-kmeans ORACLE: ground-truth classes treated as salient '
        '(sanity check only; uses labels)')
    parser.add_argument('--pca-dim', type=int,
                        help='object-kmeans: PCA dimension (MaskContrast: 32)')
    parser.add_argument('--whiten', action='store_true',
                        help='object-kmeans: whiten the PCA projection')
    parser.add_argument('--max-images', type=int,
                        help='evaluate the first N test images only')
    parser.add_argument('--batch-size', type=int,
                        help='override test_dataloader.batch_size')
    parser.add_argument('--num-workers', type=int,
                        help='override test_dataloader.num_workers')
    parser.add_argument('--device', help='cpu / cuda (default: cuda if any)')
    parser.add_argument(
        '--init-seed', type=int, default=0,
        help="torch seed of the initial weights with checkpoint 'none'")
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. test_dataloader.batch_size=8')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> list:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)

    from mmdense.evaluation.dense_features import (build_model_from_config,
                                                   build_test_dataloader,
                                                   format_results,
                                                   run_unsup_eval,
                                                   saliency_from_classes,
                                                   saliency_from_dir)
    checkpoint = None if args.checkpoint.lower() == 'none' else \
        args.checkpoint
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    model = build_model_from_config(cfg, checkpoint, args.device,
                                    args.init_seed)
    loader = build_test_dataloader(cfg, args.max_images, args.batch_size,
                                   args.num_workers)

    saliency_fn = None
    if args.mode == 'object-kmeans':
        if args.saliency_dir:
            saliency_fn = saliency_from_dir(args.saliency_dir)
        elif args.saliency_classes:
            classes = list(args.saliency_classes)
            print('[unsup_seg_eval] ORACLE saliency from ground-truth '
                  f'classes {classes}: an upper bound, not an unsupervised '
                  'result', flush=True)

            def saliency_fn(data_sample, index, gt):
                return saliency_from_classes(gt, classes)
        else:
            raise SystemExit('--mode object-kmeans needs --saliency-dir '
                             '(or --saliency-classes for an oracle check)')

    num_clusters = args.num_clusters
    if num_clusters is not None and len(num_clusters) == 1:
        num_clusters = num_clusters[0]
    results = run_unsup_eval(
        model,
        loader,
        mode=args.mode,
        num_classes=args.num_classes,
        num_clusters=num_clusters,
        seeds=args.seeds,
        niter=args.niter,
        max_fit_samples=args.max_fit_samples,
        feature_source=args.feature_source,
        matching=args.matching,
        saliency_fn=saliency_fn,
        pca_dim=args.pca_dim,
        whiten=args.whiten)
    print('\n' + format_results(results), flush=True)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(config=args.config, checkpoint=args.checkpoint,
                     mode=args.mode, results=results), f, indent=2)
        print(f'results written to {args.out}', flush=True)
    return results


if __name__ == '__main__':
    main()
