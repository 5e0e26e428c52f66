# Copyright (c) mmdense contributors. All rights reserved.
"""Embedding maps as colour pictures (ViCE Fig. 4): PCA of the dense features to RGB.

The dense features (``extract_dense``, any method) of the first
``--num-images`` test images are projected on their 3 principal components,
fitted jointly on all pixels of those images (so a colour means the same in
every picture), scaled per component to the 1st-99th percentile and upsampled
to the image size. One PNG per image (image | PCA colours) and a grid of all
of them (``embeddings.png``).

    python tools/analysis_tools/visualize_embeddings.py \\
        configs/vice/vice_resnet18-narrow-fpn_1xb8-200iters_synthetic.py \\
        work_dirs/vice_demo/iter_300.pth --out work_dirs/vice_demo/embeddings --num-images 8
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mmdense.apis import add_model_args, load_model_and_loader  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='PCA-to-RGB pictures of dense embeddings')
    add_model_args(parser)
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--feature-source', default='auto',
                        help="extract_dense stage (default 'auto')")
    args = parser.parse_args(argv)
    if args.max_images is None:
        args.max_images = 8
    return args


def pca_rgb(features: torch.Tensor) -> torch.Tensor:
    """Project ``(N, D, h, w)`` features on their top-3 principal components.

    Returns:
        Tensor: ``(N, 3, h, w)`` in ``[0, 1]`` (1st-99th percentile per
        component mapped to 0-1).
    """
    n, d, h, w = features.shape
    pixels = features.permute(0, 2, 3, 1).reshape(-1, d).double()
    centred = pixels - pixels.mean(0)
    # torch.linalg.svd of the D x D covariance: exact, and D is small (<= 2048)
    _, _, vh = torch.linalg.svd(centred.t() @ centred)
    projected = centred @ vh[:3].t()
    lo = torch.quantile(projected, 0.01, dim=0)
    hi = torch.quantile(projected, 0.99, dim=0)
    scaled = ((projected - lo) / (hi - lo).clamp(min=1e-12)).clamp(0, 1)
    return scaled.float().view(n, h, w, 3).permute(0, 3, 1, 2)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    args = parse_args(argv)
    model, loader, _ = load_model_and_loader(args)
    images, feats = [], []
    with torch.inference_mode():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            feats.append(model.extract_dense(data['inputs'], args.feature_source).float().cpu())
            images += [img.permute(1, 2, 0).numpy() for img in batch['inputs']]  # BGR uint8
            if len(images) >= args.max_images:
                break
    feats = torch.cat(feats)[:args.max_images]
    colours = pca_rgb(feats)
    os.makedirs(args.out, exist_ok=True)
    written, rows = [], []
    for i, (img, rgb) in enumerate(zip(images, colours)):
        size = img.shape[:2]
        pic = F.interpolate(rgb[None], size=size, mode='bilinear', align_corners=False)[0]
        pic = (pic.permute(1, 2, 0).numpy()[..., ::-1] * 255).round().astype(np.uint8)  # BGR
        row = np.concatenate([np.ascontiguousarray(img), pic], axis=1)
        path = osp.join(args.out, f'embedding_{i:03d}.png')
        cv2.imwrite(path, row)
        written.append(path)
        rows.append(cv2.resize(row, (2 * 128 * size[1] // size[0], 128)))
    width = max(r.shape[1] for r in rows)
    grid = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])
    cv2.imwrite(osp.join(args.out, 'embeddings.png'), grid)
    written.append(osp.join(args.out, 'embeddings.png'))
    print(f'wrote {len(written)} PNGs to {args.out}')
    return written


if __name__ == '__main__':
    main()
