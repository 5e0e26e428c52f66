# Copyright (c) mmdense contributors. All rights reserved.
"""Unsupervised semantic segmentation of a checkpoint's frozen features.

Modes (see ``docs/benchmarks/unsupervised_segmentation.md``):

- ``prototype``: the model's per-pixel prototype argmax (SlotCon), Hungarian
  matching when K == C (SlotCon Table 5).
- ``kmeans``: faiss k-means over the L2-normalised dense features of the whole
  test set, Hungarian (K == C) or majority (K > C, over-clustering), mean and
  std over ``--seeds`` seeds (CrOC Table 3, ViCE Table 1, MaskContrast Table 4).
- ``object-kmeans``: MaskContrast's k-means over mean embeddings of salient
  objects; needs ``--saliency-dir`` (masks at the evaluated size),
  ``--saliency-model`` (the model's own saliency head, MaskContrast's
  protocol) or, as an oracle sanity check, ``--saliency-classes``.

The config's ``test_dataloader`` must yield images and ``gt_sem_seg``
(``PackSegInputs``), e.g. ``configs/_base_/datasets/synthetic_scenes.py``.

Examples::

    python tools/analysis_tools/unsup_seg_eval.py \\
        configs/slotcon/slotcon_resnet18-narrow_1xb32-400iters_synthetic.py work_dirs/demo/iter_400.pth --mode prototype
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

from mmdense.apis import add_model_args, load_model_and_loader  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Unsupervised segmentation evaluation of dense features')
    add_model_args(parser)  # config, checkpoint, --max-images, --device ...
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
                        help="dense features to cluster: one of the model's dense "
                        "stages, e.g. auto / neck / backbone (default: auto)")
    parser.add_argument('--matching', default='auto',
                        choices=['auto', 'hungarian', 'majority'],
                        help='auto: Hungarian if K == C else majority')
    parser.add_argument('--saliency-dir',
                        help='object-kmeans: <image stem>.png object masks '
                        '(0 = background) at the evaluated size')
    parser.add_argument('--saliency-model', action='store_true',
                        help="object-kmeans: the model's saliency head (dense_saliency, "
                        'probability > 0.5) is the background source (MaskContrast)')
    parser.add_argument(
        '--saliency-classes', type=int, nargs='+',
        help='object-kmeans ORACLE: ground-truth classes treated as salient '
        '(sanity check only; uses labels)')
    parser.add_argument('--pca-dim', type=int,
                        help='object-kmeans: PCA dimension (MaskContrast: 32)')
    parser.add_argument('--whiten', action='store_true',
                        help='object-kmeans: whiten the PCA projection')
    parser.add_argument('--out', help='write the results to this JSON file')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> list:
    args = parse_args(argv)
    if args.mode == 'object-kmeans' and not (args.saliency_dir or args.saliency_classes
                                             or args.saliency_model):
        raise SystemExit('--mode object-kmeans needs --saliency-dir or --saliency-model '
                         '(or --saliency-classes for an oracle check)')

    from mmdense.evaluation.dense import (format_results, oracle_saliency, run_unsup_eval,
                                          saliency_from_dir)
    model, loader, _ = load_model_and_loader(args)

    saliency_fn = None
    if args.mode == 'object-kmeans':
        if args.saliency_model:
            saliency_fn = 'model'  # model.dense_saliency (MODEL_SALIENCY)
        elif args.saliency_dir:
            saliency_fn = saliency_from_dir(args.saliency_dir)
        else:
            classes = list(args.saliency_classes)
            print('[unsup_seg_eval] ORACLE saliency from ground-truth '
                  f'classes {classes}: an upper bound, not an unsupervised '
                  'result', flush=True)
            saliency_fn = oracle_saliency(classes)

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
