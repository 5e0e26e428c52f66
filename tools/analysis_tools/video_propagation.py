# Copyright (c) mmdense contributors. All rights reserved.
"""DAVIS 2017 video object segmentation by label propagation (CrOC appendix D).

The first frame's masks are propagated through each validation sequence with
a k-NN rule over the frozen dense features of the model (DINO's
``eval_video_segmentation.py`` protocol and defaults: 7 previous frames plus
the first, top-5 neighbours within 12 feature cells, temperature 0.1, frames
at short side 480), then scored with the DAVIS toolkit's J (IoU) and F
(boundary F-measure); prints J, F and J&F per sequence and their means over
all objects. See ``docs/benchmarks/unsupervised_segmentation.md``.

Example::

    python tools/analysis_tools/video_propagation.py \\
        configs/slotcon/slotcon_resnet50_8xb64-coslr-800e_coco.py work_dirs/.../epoch_800.pth \\
        --data-root data/DAVIS --feature-source backbone --out davis.json

The config only provides the model (its data pre-processor and
``extract_dense``); the frames come from ``--data-root`` (DAVIS 2017 layout:
``JPEGImages/480p``, ``Annotations/480p``, ``ImageSets/2017/val.txt``).
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


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmdense.apis import add_model_args
    parser = argparse.ArgumentParser(
        description='DAVIS 2017 label propagation with frozen dense features')
    add_model_args(parser, test_loader=False)  # config, checkpoint, --device, --cfg-options ...
    parser.add_argument('--data-root', required=True,
                        help='DAVIS folder (JPEGImages/, Annotations/, ImageSets/)')
    parser.add_argument('--split', default='val', help='ImageSets/2017/<split>.txt (default: val)')
    parser.add_argument('--resolution', default='480p', help='480p (default) or Full-Resolution')
    parser.add_argument('--max-sequences', type=int, help='the first N sequences only')
    parser.add_argument('--feature-source', default='auto',
                        help="one of the model's dense stages (auto / neck / backbone ...)")
    parser.add_argument('--n-last-frames', type=int, default=7,
                        help='previous frames in the context (DINO: 7)')
    parser.add_argument('--topk', type=int, default=5, help='neighbours per cell (DINO: 5)')
    parser.add_argument('--radius', type=int, default=12,
                        help='neighbourhood radius in feature cells, -1 for none (DINO: 12)')
    parser.add_argument('--temperature', type=float, default=0.1,
                        help='affinity temperature (DINO: 0.1)')
    parser.add_argument('--short-side', type=int, default=480,
                        help='frames resized to this short side (DINO: 480; 0 keeps the size)')
    parser.add_argument('--multiple', type=int, default=64,
                        help='long side floored to a multiple of this (DINO: 64)')
    parser.add_argument('--batch-size', type=int, default=8, help='frames per feature batch')
    parser.add_argument('--out-dir', help='write the predicted masks (indexed PNGs) here')
    parser.add_argument('--out', help='write the results to this JSON file')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    import torch

    from mmdense.apis.inference import load_model
    from mmdense.datasets.davis import DAVIS2017
    from mmdense.evaluation.video import (PropagationConfig, model_feature_fn,
                                          run_davis_propagation)

    dataset = DAVIS2017(args.data_root, split=args.split, resolution=args.resolution)
    model = load_model(args)
    settings = PropagationConfig(
        n_last_frames=args.n_last_frames, topk=args.topk,
        radius=None if args.radius < 0 else args.radius, temperature=args.temperature,
        short_side=args.short_side or None, multiple=args.multiple,
        batch_size=args.batch_size)
    device = next(model.parameters()).device if any(True for _ in model.parameters()) \
        else torch.device('cpu')
    results = run_davis_propagation(
        model_feature_fn(model, args.feature_source), dataset, settings,
        max_sequences=args.max_sequences, out_dir=args.out_dir, device=device,
        log=lambda line: print(line, flush=True))

    lines = [f"{'sequence':<24}{'objects':>8}{'J':>8}{'F':>8}{'J&F':>8}"]
    for name, res in results['sequences'].items():
        lines.append(f"{name:<24}{len(res['J']):>8}{100 * res['J_mean']:>8.1f}"
                     f"{100 * res['F_mean']:>8.1f}{100 * res['JF_mean']:>8.1f}")
    s = results['summary']
    lines.append(f"{'mean (over objects)':<24}{s['num_objects']:>8}{s['J_mean']:>8.1f}"
                 f"{s['F_mean']:>8.1f}{s['JF_mean']:>8.1f}")
    print('\n' + '\n'.join(lines), flush=True)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           data_root=args.data_root, **results), f, indent=2)
        print(f'results written to {args.out}', flush=True)
    return results


if __name__ == '__main__':
    main()
