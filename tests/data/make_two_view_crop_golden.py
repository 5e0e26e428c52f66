"""Record the former TwoViewRandomResizedCrop's outputs (crops, flips, overlap
boxes, a hash of the views' pixels) for fixed seeds; run with the pre-refactor
checkout first on PYTHONPATH."""
import hashlib
import json
import sys

import numpy as np

import mmdense.datasets.transforms.multi_view as mv

REF_CASES = [
    (32, (0.08, 1.0), 'bicubic', 0.01, 10),
    (24, (0.2, 1.0), 'bilinear', 0.01, 10),
    (16, (0.01, 0.03), 'bicubic', 0.6, 2),
    (16, (0.03, 0.15), 'bilinear', 0.2, 2),
    (16, (0.05, 0.2), 'bicubic', 0.3, 3),
]


def digest(views):
    h = hashlib.sha1()
    for v in views:
        h.update(str(v.shape).encode())
        h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


out = {}
img = np.random.default_rng(7).integers(0, 256, (90, 120, 3), dtype=np.uint8)
for c, (size, scale, interp, min_overlap, max_tries) in enumerate(REF_CASES):
    crops, flips, boxes, hashes = [], [], [], []
    for seed in range(25):
        t = mv.TwoViewRandomResizedCrop(size=size, scale=scale, interpolation=interp,
                                        min_overlap=min_overlap, max_tries=max_tries, seed=seed)
        r = t(dict(img=img.copy()))
        crops.append(r['view_crops']); flips.append(r['view_flips']); boxes.append(r['view_boxes'])
        hashes.append(digest(r['img']))
    out[f'case{c}_crops'] = np.stack(crops); out[f'case{c}_flips'] = np.stack(flips)
    out[f'case{c}_boxes'] = np.stack(boxes); out[f'case{c}_hashes'] = np.array(hashes)
# global numpy state
img = np.random.default_rng(3).integers(0, 256, (64, 80, 3), dtype=np.uint8)
t = mv.TwoViewRandomResizedCrop(size=16, scale=(0.02, 0.3), interpolation='bicubic',
                                min_overlap=0.3, max_tries=3)
crops, flips, boxes, hashes, after = [], [], [], [], []
for seed in range(15):
    np.random.seed(seed)
    r = t(dict(img=img.copy()))
    after.append(np.random.random())
    crops.append(r['view_crops']); flips.append(r['view_flips']); boxes.append(r['view_boxes'])
    hashes.append(digest(r['img']))
out.update(global_crops=np.stack(crops), global_flips=np.stack(flips), global_boxes=np.stack(boxes),
           global_hashes=np.array(hashes), global_after=np.array(after))
# pairwise boxes of arbitrary crops, by the former box_in_view
rng = np.random.default_rng(0)
batch, num_views = 400, 3
x1 = rng.integers(0, 500, (batch, num_views)); y1 = rng.integers(0, 400, (batch, num_views))
crops = np.stack([x1, y1, x1 + rng.integers(1, 600, (batch, num_views)),
                  y1 + rng.integers(1, 500, (batch, num_views))], -1)
flips = rng.random((batch, num_views)) < 0.5
out['pair_crops'] = crops.astype(np.float32); out['pair_flips'] = flips
for i, j in ((0, 1), (1, 0), (0, 2), (2, 1)):
    bi = np.full((batch, 4), np.nan, np.float32); bj = bi.copy(); valid = np.zeros(batch, bool)
    for n in range(batch):
        ci, cj = tuple(int(v) for v in crops[n, i]), tuple(int(v) for v in crops[n, j])
        inter = mv.box_intersection(ci, cj)
        if inter is None:
            continue
        valid[n] = True
        bi[n] = mv.box_in_view(inter, ci, bool(flips[n, i]))
        bj[n] = mv.box_in_view(inter, cj, bool(flips[n, j]))
    out[f'pair{i}{j}_i'] = bi; out[f'pair{i}{j}_j'] = bj; out[f'pair{i}{j}_valid'] = valid
# text only: the pairwise boxes as digests; their inputs are regenerated from the seed
for key in [k for k in out if k.startswith('pair')]:
    if key.endswith(('_i', '_j')):
        valid = out[key[:-2] + '_valid']
        out[key + '_sha256'] = hashlib.sha256(np.ascontiguousarray(out[key][valid]).tobytes()).hexdigest()
        del out[key]
del out['pair_crops'], out['pair_flips']
json.dump({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in out.items()},
          open(sys.argv[1], 'w'), sort_keys=True)
print('cases', len(REF_CASES), 'keys', len(out))
