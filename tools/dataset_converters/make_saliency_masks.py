# Copyright (c) mmdense contributors. All rights reserved.
"""Make MaskContrast saliency masks for an image folder, with no downloaded weights.

Classical unsupervised saliency (spectral residual + boundary prior) as pseudo-labels,
then a small saliency network trained on them and bootstrapped (see
``mmdense/apis/saliency_masks.py``). Writes ``OUT_DIR/<image path>.png`` (0 background,
1 object), lists too-small masks (not written) and unreadable images in
``OUT_DIR/saliency_report.json`` with coverage statistics.

    python tools/dataset_converters/make_saliency_masks.py data/VOCdevkit/VOC2012/JPEGImages \
        data/VOCdevkit/VOC2012/saliency_unsup
    # measure against the union of COCO instance masks:
    python tools/dataset_converters/make_saliency_masks.py ../shared/data/coco_tiny/val2017 \
        work_dirs/maskcontrast_sal --coco-ann ../shared/data/coco_tiny/annotations/instances_val2017.json
"""
import argparse
import json
import sys


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='unsupervised saliency masks (MaskContrast)')
    parser.add_argument('img_dir', help='folder of images (searched recursively)')
    parser.add_argument('out_dir', help='where the mask PNGs go (same relative paths)')
    parser.add_argument('--min-fraction', type=float, default=0.01,
                        help='masks covering less of their image are listed and not written')
    parser.add_argument('--rounds', type=int, default=2, help='bootstrapping rounds')
    parser.add_argument('--epochs', type=int, default=15, help='epochs per round')
    parser.add_argument('--size', type=int, default=128, help='working resolution')
    parser.add_argument('--min-steps', type=int, default=150,
                        help='training steps per round at least (small folders)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--coco-ann', help='COCO instances json: score the masks against the '
                        'union of the instance masks (IoU, F-measure) with two baselines')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    from mmdense.apis.saliency_masks import coco_foreground, make_saliency_masks, score_against
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    report = make_saliency_masks(args.img_dir, args.out_dir, args.min_fraction, args.rounds,
                                 args.epochs, args.size, args.seed, not args.no_progress,
                                 args.min_steps)
    result = dict(coverage=report.coverage())
    print('\ncoverage: ' + json.dumps(result['coverage']))
    if report.too_small:
        print(f'{len(report.too_small)} too-small masks (not written): '
              + ', '.join(f'{k} ({v:.2%})' for k, v in report.too_small.items()))
    if report.unreadable:
        print(f'{len(report.unreadable)} unreadable images: ' + ', '.join(report.unreadable))
    if args.coco_ann:
        result['scores'] = score_against(args.out_dir, coco_foreground(args.coco_ann))
        print(f"{'masks':<16}{'IoU':>8}{'F(0.3)':>8}")
        for name, row in result['scores'].items():
            print(f"{name:<16}{row['IoU']:>8.2f}{row['F']:>8.2f}")
    return result


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
