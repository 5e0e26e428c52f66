# Copyright (c) mmdense contributors. All rights reserved.
"""Export the backbone of an mmdense checkpoint for mmdet / mmseg / detectron2.

Examples::

    # teacher backbone (the network SlotCon keeps for transfer)
    python tools/model_converters/extract_backbone.py \\
        work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/epoch_800.pth work_dirs/slotcon_resnet50_8xb64-coslr-800e_coco/backbone.pth
    # the student instead, and the detectron2 layout beside it (backbone_d2.pkl)
    python tools/model_converters/extract_backbone.py CKPT OUT --student --detectron2

The output ``{'state_dict': {'conv1.weight': ..., 'layer1.0.conv1.weight': ...},
'meta': {...}}`` loads into mmdet's / mmseg's ``ResNet`` (or mmpretrain's
``VisionTransformer``) with ``init_cfg=dict(type='Pretrained', checkpoint=OUT)``
and no missing or unexpected key. The prefix comes from the method's class
(``backbone_prefix``, found through the config stored in the checkpoint), see
``mmdense.apis.backbone_export``. See docs/benchmarks/transfer.md.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write the backbone of an mmdense checkpoint as a backbone-only '
        'checkpoint (mmdet / mmseg / mmpretrain key names).')
    parser.add_argument('checkpoint', help='mmdense (mmengine) checkpoint, e.g. epoch_800.pth')
    parser.add_argument('out', help='output file, e.g. work_dirs/xxx/backbone.pth')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--student', action='store_true',
                       help='export the student backbone (default: the EMA teacher)')
    group.add_argument('--prefix', help='export the keys under this prefix instead, '
                       'e.g. "teacher.module.backbone." (default: the backbone_prefix of the '
                       "method named by the checkpoint's config, else known key prefixes)")
    parser.add_argument('--detectron2', action='store_true',
                        help='also write the detectron2 layout (ResNet only) to '
                        '<out without extension>_d2.pkl')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if REPO_ROOT not in sys.path:  # run from a checkout without `pip install -e .`
        sys.path.insert(0, REPO_ROOT)
    from mmdense.apis.backbone_export import BackboneNotFoundError, export_backbone

    network = 'student' if args.student else 'teacher'
    try:
        result = export_backbone(args.checkpoint, args.out, network=network,
                                 prefix=args.prefix, detectron2=args.detectron2)
    except (BackboneNotFoundError, FileNotFoundError, KeyError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f'extract_backbone: error: {message}', file=sys.stderr)
        return 1
    meta = result['meta']
    print(f'{meta["network"]} backbone (keys under {meta["prefix"]!r}, from '
          f'{meta["prefix_from"]}) of {args.checkpoint}')
    print(f'{meta["num_tensors"]} tensors, {meta["num_values"] / 1e6:.2f} M values:')
    print('\n'.join(result['summary']))
    for path in result['paths']:
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
