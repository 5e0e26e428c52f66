# Copyright (c) mmdense contributors. All rights reserved.
"""DAVIS 2017 label propagation: the J / F metrics on hand-made masks, the
propagation with an identity "feature extractor" on a synthetic video, the
DAVIS folder reader and the command-line tool on a tiny generated DAVIS folder
with a toy model."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmdense.datasets.davis import DAVIS2017, read_indexed_png, write_indexed_png
from mmdense.evaluation.video import (PropagationConfig, bound_pixels, db_eval_boundary,
                                      db_eval_iou, evaluate_sequence, f_measure, frame_size,
                                      neighbourhood_mask, propagate_labels, propagate_video,
                                      seg2bmap, summarize)

from tests.harness.paths import REPO
from tests.test_configs.test_benchmarks.conftest import load_tool
from tests.test_package.test_new_method_plugs_in import TOY  # registers ToyDenseMethod


def _square(shape, y, x, size):
    mask = np.zeros(shape, bool)
    mask[y:y + size, x:x + size] = True
    return mask


# ------------------------------------------------------------------ J and F
def test_identical_masks_score_one():
    gt = _square((100, 120), 20, 30, 40)
    assert db_eval_iou(gt, gt) == 1.0
    assert f_measure(gt, gt) == 1.0 and db_eval_boundary(gt, gt) == 1.0


def test_disjoint_masks_score_zero():
    gt = _square((100, 120), 5, 5, 20)
    pred = _square((100, 120), 60, 80, 20)  # far beyond the 2-pixel tolerance
    assert bound_pixels(gt.shape) == 2  # ceil(0.008 * hypot(100, 120)) = ceil(1.25)
    assert db_eval_iou(gt, pred) == 0.0
    assert f_measure(pred, gt) == 0.0


def test_one_pixel_shift_is_within_the_contour_tolerance():
    gt = _square((100, 120), 20, 30, 40)
    pred = _square((100, 120), 20, 31, 40)
    j = db_eval_iou(gt, pred)
    assert j == pytest.approx(39 * 40 / (41 * 40)) and j < 1
    assert f_measure(pred, gt) == 1.0
    # beyond the tolerance the contour accuracy drops
    far = _square((100, 120), 20, 36, 40)
    assert f_measure(far, gt) < 1.0


def test_empty_masks_and_void_follow_the_toolkit():
    empty = np.zeros((10, 10), bool)
    square = _square((10, 10), 2, 2, 4)
    assert db_eval_iou(empty, empty) == 1.0 and f_measure(empty, empty) == 1.0
    assert f_measure(empty, square) == 0.0  # precision 1, recall 0
    void = np.zeros((10, 10), bool)
    void[:, 4:] = True
    left = np.zeros((10, 10), bool)
    left[2:6, 2:4] = True  # the square's part outside the void columns
    assert db_eval_iou(square, left) == 0.5
    assert db_eval_iou(square, left, void) == 1.0  # the differing pixels are void


def test_seg2bmap_is_one_pixel_wide():
    b = seg2bmap(_square((8, 8), 2, 2, 4))
    # pixels differing from their east / south / south-east neighbour: the square's
    # right column and bottom row (7) and the ring above and left of it (9)
    assert b.sum() == 16 and not b[6:].any() and not b[:, 6:].any() and not b[0].any()
    assert not seg2bmap(np.zeros((5, 5), bool)).any()


def test_sequence_scores_skip_first_and_last_frames():
    gt = [np.zeros((20, 20), np.uint8) for _ in range(4)]
    for t, g in enumerate(gt):
        g[2:8, 2 + t:8 + t] = 1
        g[12:18, 12:18] = 2
    pred = [g.copy() for g in gt]
    pred[0][:] = 0  # first and last frames are not scored
    pred[3][:] = 0
    pred[2][pred[2] == 2] = 0  # object 2 lost in frame 2
    res = evaluate_sequence(gt, pred)
    assert res['J'][1] == 1.0 and res['J'][2] == 0.5
    assert res['F'][1] == 1.0 and res['F'][2] == 0.5
    summary = summarize({'a': res})
    assert summary['num_objects'] == 2
    assert summary['JF_mean'] == pytest.approx((0.75 + 0.75) / 2)


# ------------------------------------------------------------------ propagation
def test_propagate_labels_matches_dino_formula():
    """Top-k of exp(cos / T) within the neighbourhood, normalised: DINO's
    ``label_propagation`` written out naively."""
    torch.manual_seed(0)
    d, h, w, m, c = 6, 5, 4, 3, 3
    tgt = torch.randn(d, h * w)
    ctx = torch.randn(m, d, h * w)
    labels = torch.rand(m, c, h * w)
    nbr = neighbourhood_mask(h, w, 1)
    out = propagate_labels(tgt, ctx, labels, topk=5, temperature=0.1, neighbourhood=nbr,
                           max_elements=7)  # many chunks
    aff = torch.exp(torch.einsum('mdk,dq->mkq', F.normalize(ctx, dim=1), F.normalize(tgt, dim=0)) / 0.1)
    aff = aff * nbr[None].float()
    aff = aff.reshape(m * h * w, h * w)
    kth = aff.topk(5, dim=0).values.min(0).values
    aff[aff < kth] = 0
    aff = aff / aff.sum(0, keepdim=True)
    ref = labels.permute(1, 0, 2).reshape(c, -1) @ aff
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_neighbourhood_and_frame_size():
    nbr = neighbourhood_mask(3, 4, 1)
    assert nbr.shape == (12, 12) and nbr[0].sum() == 4 and nbr[5].sum() == 9
    assert neighbourhood_mask(3, 4, -1) is None
    assert frame_size(480, 854) == (480, 832)  # DINO: long side floored to 64
    assert frame_size(854, 480) == (832, 480)
    assert frame_size(50, 60, None) == (50, 60)


COLOURS = np.array([[60, 60, 60], [255, 0, 0], [0, 255, 0]], np.uint8)  # BGR: bg, obj 1, obj 2


def _moving_square_video(frames=3, size=48, step=4):
    video, masks = [], []
    for t in range(frames):
        label = np.zeros((size, size), np.uint8)
        label[8:24, 8 + step * t:24 + step * t] = 1
        label[32:44, 28:40] = 2
        video.append(COLOURS[label])
        masks.append(label)
    return video, masks


def onehot_colour_features(images: torch.Tensor, stride: int = 4) -> torch.Tensor:
    """The identity "feature extractor": one-hot colour of each pixel,
    average-pooled to a stride-4 grid."""
    imgs = images.permute(0, 2, 3, 1).long()  # B H W 3
    colours = torch.from_numpy(COLOURS).long()
    hit = (imgs[:, :, :, None, :] == colours[None, None, None]).all(-1).float()  # B H W K
    return F.avg_pool2d(hit.permute(0, 3, 1, 2), stride)


def test_identity_features_recover_a_moving_square():
    video, masks = _moving_square_video()
    cfg = PropagationConfig(short_side=None, batch_size=2)
    preds = propagate_video(video, masks[0], onehot_colour_features, cfg)
    assert len(preds) == 3 and all(p.shape == masks[0].shape for p in preds)
    np.testing.assert_array_equal(preds[0], masks[0])
    for t in (1, 2):
        for obj in (1, 2):
            assert db_eval_iou(masks[t] == obj, preds[t] == obj) > 0.9, (t, obj)
    res = evaluate_sequence(masks, preds, skip_first_last=False)
    assert res['J_mean'] > 0.9 and res['F_mean'] > 0.9


def test_propagation_without_queue_and_with_void():
    video, masks = _moving_square_video(frames=2)
    first = masks[0].copy()
    first[0, :] = 255  # void counts as background
    cfg = PropagationConfig(short_side=None, n_last_frames=0, radius=None)
    preds = propagate_video(video, first, onehot_colour_features, cfg)
    assert preds[0].max() == 2 and db_eval_iou(masks[1] == 1, preds[1] == 1) > 0.9


# ------------------------------------------------------------------ DAVIS folder + CLI
def make_davis(root: str, sequences=('blobs', 'still'), frames: int = 4) -> str:
    """DAVIS 2017 layout: JPEGImages/480p, Annotations/480p (palette PNGs),
    ImageSets/2017/val.txt; 64 x 96 frames, two objects."""
    for s, name in enumerate(sequences):
        img_dir = osp.join(root, 'JPEGImages', '480p', name)
        ann_dir = osp.join(root, 'Annotations', '480p', name)
        os.makedirs(img_dir)
        os.makedirs(ann_dir)
        for t in range(frames):
            label = np.zeros((64, 96), np.uint8)
            label[10:34, 10 + 3 * t * (1 - s):40 + 3 * t * (1 - s)] = 1
            label[40:60, 60:90] = 2
            img = COLOURS[label].copy()
            cv2.imwrite(osp.join(img_dir, f'{t:05d}.jpg'), img)
            write_indexed_png(osp.join(ann_dir, f'{t:05d}.png'), label)
    os.makedirs(osp.join(root, 'ImageSets', '2017'))
    with open(osp.join(root, 'ImageSets', '2017', 'val.txt'), 'w') as f:
        f.write('\n'.join(sequences) + '\n')
    return root


def test_davis_reader_reads_palette_indices(tmp_path):
    root = make_davis(str(tmp_path / 'DAVIS'))
    davis = DAVIS2017(root)
    assert davis.sequences == ['blobs', 'still'] and len(davis) == 2
    frames, anns = davis.read_frames('blobs'), davis.read_annotations('blobs')
    assert len(frames) == len(anns) == 4 and frames[0].shape == (64, 96, 3)
    assert set(np.unique(anns[0])) == {0, 1, 2}  # ids, not palette colours
    assert davis.palette('blobs') is not None
    path = osp.join(root, 'Annotations', '480p', 'blobs', '00000.png')
    assert cv2.imread(path).max() > 2  # OpenCV would read colours
    np.testing.assert_array_equal(read_indexed_png(path), anns[0])
    with pytest.raises(FileNotFoundError):
        DAVIS2017(str(tmp_path / 'nowhere'))


def test_cli_on_a_tiny_davis_folder_with_a_toy_model(tmp_path, capsys):
    root = make_davis(str(tmp_path / 'DAVIS'))
    config = tmp_path / 'toy.py'
    config.write_text(f'default_scope = "mmdense"\nmodel = {TOY!r}\n')
    tool = load_tool('analysis_tools/video_propagation.py')
    out_json = str(tmp_path / 'davis.json')
    out_dir = str(tmp_path / 'pred')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = tool.main([str(config), 'none', '--data-root', root, '--max-sequences', '1',
                             '--short-side', '64', '--multiple', '16', '--device', 'cpu',
                             '--batch-size', '2', '--out', out_json, '--out-dir', out_dir])
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    assert list(results['sequences']) == ['blobs']  # --max-sequences 1
    summary = results['summary']
    assert summary['num_objects'] == 2
    for key in ('J_mean', 'F_mean', 'JF_mean'):
        assert 0.0 <= summary[key] <= 100.0
    assert summary['JF_mean'] == pytest.approx((summary['J_mean'] + summary['F_mean']) / 2)
    assert 'blobs' in printed and 'mean (over objects)' in printed and 'still' not in printed
    with open(out_json) as f:
        saved = json.load(f)
    assert saved['summary']['JF_mean'] == pytest.approx(summary['JF_mean'])
    assert saved['settings']['topk'] == 5 and saved['settings']['n_last_frames'] == 7
    preds = sorted(os.listdir(osp.join(out_dir, 'blobs')))
    assert preds == [f'{t:05d}.png' for t in range(4)]
    assert read_indexed_png(osp.join(out_dir, 'blobs', '00001.png')).shape == (64, 96)
