"""Golden SlotCon losses/gradients from the code before the foundation refactor."""
import hashlib
import json
import sys
import numpy as np
import torch
import mmdense.models  # noqa
# run with the pre-refactor checkout first on PYTHONPATH
from mmpretrain.structures import DataSample
from mmdense.registry import MODELS
from mmengine.registry import DefaultScope
DefaultScope.get_instance('golden', scope_name='mmdense')
sys.path.insert(0, '.')
from tests.harness.slotcon_tiny import TINY_SLOTCON
Box=tuple
from typing import Optional
def box_intersection(a: Box, b: Box) -> Optional[Box]:
    """Intersection of two boxes, or ``None`` when it is empty."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    if x2 <= x1 or y2 <= y1:
        return None
    return (x1, y1, x2, y2)


def box_in_view(box: Box, crop: Box, flipped: bool) -> np.ndarray:
    """Express ``box`` in the normalised frame of a view cut from ``crop``.

    Args:
        box: region in original-image pixels.
        crop: the view's crop in original-image pixels.
        flipped: whether the view was mirrored horizontally after cropping.

    Returns:
        np.ndarray: ``(4,)`` float32 ``(x1, y1, x2, y2)`` in ``[0, 1]`` of the
        view (a flipped view maps ``x1' = 1 - x2``, ``x2' = 1 - x1``).
    """
    cw, ch = crop[2] - crop[0], crop[3] - crop[1]
    x1, x2 = (box[0] - crop[0]) / cw, (box[2] - crop[0]) / cw
    y1, y2 = (box[1] - crop[1]) / ch, (box[3] - crop[1]) / ch
    if flipped:
        x1, x2 = 1.0 - x2, 1.0 - x1
    return np.array([x1, y1, x2, y2], dtype=np.float32)



def batch(bs=4, size=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(bs, 3, size, size, generator=gen) for _ in range(2)]
    rng = np.random.default_rng(seed)
    crops, flips, boxes = [], [], []
    for _ in range(bs):
        while True:
            c = []
            for _ in range(2):
                x1, y1 = rng.integers(0, 60, size=2); w, h = rng.integers(40, 100, size=2)
                c.append((float(x1), float(y1), float(x1 + w), float(y1 + h)))
            inter = box_intersection(c[0], c[1])
            if inter is not None:
                break
        f = rng.random(2) < 0.5
        crops.append(np.array(c, np.float32)); flips.append(f)
        boxes.append(np.stack([box_in_view(inter, cc, ff) for cc, ff in zip(c, f)]))
    return views, np.stack(crops), np.stack(flips), np.stack(boxes)

out = {}
for dtype in (torch.float32, torch.float64):
    torch.manual_seed(0)
    model = MODELS.build(TINY_SLOTCON); model.init_weights(); model.to(dtype).train()
    views, crops, flips, boxes = batch()
    views = [v.to(dtype) for v in views]
    samples = []
    for b in range(len(crops)):
        ds = DataSample(); ds.set_field(boxes[b], 'view_boxes'); ds.set_field(flips[b], 'view_flips'); ds.set_field(crops[b], 'view_crops')
        samples.append(ds)
    losses = model.loss(views, samples)
    sum(losses.values()).backward()
    key = str(dtype).split('.')[-1]
    grads = {k: p.grad.detach() for k, p in model.named_parameters() if p.grad is not None}
    out[key] = dict(losses={k: float(v) for k, v in losses.items()},
                    center=model.group_loss.center.flatten().tolist())
    if dtype == torch.float32:  # text only: a digest and the norm of every gradient
        out[key]['grads'] = {k: dict(sha256=hashlib.sha256(g.contiguous().numpy().tobytes())
                                     .hexdigest(), norm=float(g.double().norm()),
                                     shape=list(g.shape)) for k, g in grads.items()}
    else:
        out[key]['grad_norms'] = {k: float(g.norm()) for k, g in grads.items()}
out['inputs'] = dict(crops=crops.tolist(), flips=flips.tolist())
out['machine'] = dict(torch=str(torch.__version__), cpu_flags=sorted(set(
    f for f in open('/proc/cpuinfo').read().split() if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16"))))
json.dump(out, open('tests/data/slotcon_golden.json', 'w'), indent=1, sort_keys=True)
print({k: out[k]['losses'] for k in ('float32', 'float64')}, out['machine'])
