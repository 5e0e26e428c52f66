# Copyright (c) mmdense contributors. All rights reserved.
"""The evaluation driver and the concept tool end to end on a tiny SlotCon
and a few synthetic scenes."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader

from mmdense.datasets.synthetic_scenes import SyntheticSceneDataset
from mmdense.evaluation.dense import (collect_dense_features, dense_features, oracle_saliency,
                                      run_unsup_eval, saliency_from_classes)
from mmdense.evaluation.metrics.unsup_seg_metric import UnsupervisedSegMetric
from mmdense.visualization.concepts import (concept_grid_shape,
                                            discover_concepts,
                                            draw_concept_grid,
                                            fit_concept_centroids)
from tests.harness.paths import REPO as REPO_ROOT
from tests.harness.configs import write_eval_config
from tests.harness.slotcon_tiny import TINY_SLOTCON, build_tiny_slotcon

SCENES = dict(num_samples=6, img_size=64, seed=11, test_mode=True,
              pipeline=[dict(type='mmseg.PackSegInputs')])


def _loader(batch_size=3, **kwargs):
    dataset = SyntheticSceneDataset(**dict(SCENES, **kwargs))
    return DataLoader(dataset, batch_size=batch_size, shuffle=False,
                      collate_fn=default_collate)


def _load_tool(name):
    path = osp.join(REPO_ROOT, 'tools', 'analysis_tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'mmdense_tool_{name}',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def model():
    return build_tiny_slotcon(seed=0).eval()


def test_dense_features_are_the_teacher_projector_output(model):
    images = torch.randn(2, 3, 64, 64)
    feats = dense_features(model, images)
    net = model.teacher.module
    torch.testing.assert_close(feats, net.neck(net.backbone(images)))
    assert feats.shape == (2, 16, 4, 4)  # neck out dim 16, stride 16
    back = dense_features(model, images, source='backbone')
    assert back.shape == (2, 64, 4, 4)
    model.predict_with = 'student'
    try:
        torch.testing.assert_close(dense_features(model, images),
                                   model.neck(model.backbone(images)))
    finally:
        model.predict_with = 'teacher'
    with pytest.raises(ValueError, match='source'):
        dense_features(model, images, source='bogus')


class _NoInterface(torch.nn.Module):
    """A model with a backbone but not the dense inference interface."""

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Conv2d(3, 4, 1)
        self.data_preprocessor = lambda data, training: data


def test_a_model_without_the_interface_is_refused(model):
    plain = _NoInterface()
    for call in (lambda: dense_features(plain, torch.randn(1, 3, 8, 8)),
                 lambda: run_unsup_eval(plain, _loader(), mode='kmeans', progress=False),
                 lambda: run_unsup_eval(plain, _loader(), mode='prototype', progress=False),
                 lambda: discover_concepts(plain, _loader(), progress=False)):
        with pytest.raises(TypeError, match='BaseDenseSelfSupervisor'):
            call()
    # the feature source is checked against the model's own stages, up front
    with pytest.raises(ValueError, match=r"feature_source 'bogus'.*\('auto'"):
        run_unsup_eval(model, _loader(), mode='kmeans', feature_source='bogus',
                       progress=False)


def test_prototype_mode_matches_the_metric(model):
    res = run_unsup_eval(model, _loader(), mode='prototype',
                         progress=False)
    assert len(res) == 1
    res = res[0]
    # tiny model: 6 prototypes, 8 classes -> many-to-one
    assert res['num_clusters'] == 6 and res['num_classes'] == 8
    assert res['matching'] == 'majority'
    # the same numbers through the metric of the test loop
    metric = UnsupervisedSegMetric(num_classes=8, num_clusters=6)
    for data in _loader():
        data = model.data_preprocessor(data, False)
        metric.process(data, model.predict(data['inputs'],
                                           data['data_samples']))
    ref = metric.compute_metrics(metric.results)
    assert round(res['mIoU'], 2) == ref['mIoU']
    assert round(res['pAcc'], 2) == ref['pAcc']
    with pytest.raises(ValueError, match='hungarian'):
        run_unsup_eval(model, _loader(), mode='prototype',
                       matching='hungarian', progress=False)


def test_kmeans_mode_seeds_and_overclustering(model):
    res = run_unsup_eval(model, _loader(), mode='kmeans',
                         num_clusters=[8, 12], seeds=2, niter=10,
                         progress=False)
    assert [r['num_clusters'] for r in res] == [8, 12]
    assert [r['matching'] for r in res] == ['hungarian', 'majority']
    for r in res:
        assert [run['seed'] for run in r['runs']] == [0, 1]
        miou = [run['mIoU'] for run in r['runs']]
        assert r['mIoU'] == pytest.approx(np.mean(miou))
        assert r['mIoU_std'] == pytest.approx(np.std(miou))
        assert 0 < r['mIoU'] <= 100 and 0 < r['pAcc'] <= 100
        assert len(r['runs'][0]['mapping']) == r['num_clusters']
    again = run_unsup_eval(model, _loader(batch_size=2), mode='kmeans',
                           num_clusters=8, seeds=[0], niter=10,
                           progress=False)
    assert again[0]['runs'][0]['mIoU'] == pytest.approx(
        res[0]['runs'][0]['mIoU'])


def test_collected_features_and_object_mode(model):
    bank = collect_dense_features(
        model, _loader(), progress=False,
        saliency_fn=lambda ds, i, gt: saliency_from_classes(gt, range(3, 8)))
    assert len(bank) == 6 and bank.dim == 16
    assert bank.labels[0].shape == (64, 64)
    norms = bank.features[0].norm(dim=0)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    assert bank.saliency[0].max() >= 1  # every scene has things
    res = run_unsup_eval(
        model, _loader(), mode='object-kmeans', seeds=1, niter=10,
        saliency_fn=oracle_saliency(range(3, 8)), progress=False)[0]
    assert res['mode'] == 'object-kmeans' and res['num_clusters'] == 8
    assert res['num_objects'] >= 7
    with pytest.raises(ValueError, match='saliency'):
        run_unsup_eval(model, _loader(), mode='object-kmeans',
                       progress=False)


def test_eval_tool_loads_a_checkpoint_and_writes_json(tmp_path, model):
    config = write_eval_config(tmp_path, TINY_SLOTCON)
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    tool = _load_tool('unsup_seg_eval')
    out = tmp_path / 'res.json'
    res = tool.main([config, str(ckpt), '--mode', 'prototype', '--out',
                     str(out), '--device', 'cpu'])
    direct = run_unsup_eval(model, _loader(), mode='prototype',
                            progress=False)
    assert res[0]['mIoU'] == pytest.approx(direct[0]['mIoU'])
    saved = json.loads(out.read_text())
    assert saved['mode'] == 'prototype'
    assert saved['results'][0]['mIoU'] == pytest.approx(res[0]['mIoU'])
    res = tool.main([config, 'none', '--mode', 'kmeans', '--num-clusters',
                     '8', '--seeds', '1', '--niter', '5', '--max-images',
                     '3', '--device', 'cpu'])
    assert res[0]['num_clusters'] == 8 and len(res[0]['runs']) == 1


def test_discover_concepts_and_grid(model):
    concepts, seen = discover_concepts(model, _loader(), topk=3,
                                       progress=False)
    assert seen == 6 and sorted(concepts) == list(range(6))
    logits_dataset = SyntheticSceneDataset(**SCENES)
    for proto, segs in concepts.items():
        assert len(segs) <= 3
        scores = [s.score for s in segs]
        assert scores == sorted(scores, reverse=True)
        for seg in segs:
            assert seg.prototype == proto and -1 <= seg.score <= 1
            assert seg.mask.shape == (64, 64) and seg.mask.any()
    # the best segment's score is its mean cosine to the prototype
    proto = next(p for p, s in concepts.items() if s)
    seg = concepts[proto][0]
    sample = logits_dataset[seg.index]
    data = model.data_preprocessor(
        dict(inputs=sample['inputs'][None],
             data_samples=[sample['data_samples']]), False)
    logits = model.dense_logits(data['inputs'])[0]
    assign = logits.argmax(0).numpy()
    # (another batch size may flip a few near-tied pixels)
    assert np.mean((assign == proto) != seg.mask) < 0.01
    cos = logits[proto].numpy()[seg.mask] / model.dense_logit_scale
    assert seg.score == pytest.approx(float(cos.mean()), abs=1e-3)

    images = {s.index: np.zeros((64, 64, 3), np.uint8)
              for segs in concepts.values() for s in segs}
    grid = draw_concept_grid(concepts, images, list(range(6)), topk=3,
                             tile=32)
    assert grid.shape == concept_grid_shape(6, 3, 32) + (3, )
    assert grid.shape[:2] == (2 + 6 * 34, 48 + 2 + 3 * 34)


def test_concept_tool_writes_pngs(tmp_path):
    config = write_eval_config(tmp_path, TINY_SLOTCON, num_samples=8)
    tool = _load_tool('visualize_concepts')
    out = tmp_path / 'concepts'
    summary = tool.main([config, 'none', '--out', str(out), '--topk', '3',
                         '--tile-size', '32', '--num-images', '5',
                         '--num-overlays', '2', '--device', 'cpu'])
    assert summary['num_images'] == 5 and summary['num_prototypes'] == 6
    grid = cv2.imread(str(out / 'concepts.png'))
    assert grid.shape == (2 + 6 * 34, 48 + 2 + 3 * 34, 3)
    overlay = cv2.imread(str(out / 'overlays' / '0000.png'))
    assert overlay.shape == (64, 3 * 64 + 2 * 2, 3)  # image | assign | gt
    stacked = cv2.imread(str(out / 'overlays.png'))
    assert stacked.shape == (2 * 64 + 2, 3 * 64 + 4, 3)
    saved = json.loads((out / 'concepts.json').read_text())
    assert set(saved['concepts']) == {str(p) for p in range(6)}
    assert all(seg['index'] < 5 for segs in saved['concepts'].values()
               for seg in segs)


def test_kmeans_concepts_from_dense_features(model, tmp_path):
    centroids = fit_concept_centroids(model, _loader(), 4, stage='backbone', niter=5,
                                      progress=False)
    assert centroids.shape == (4, 64)  # backbone C5 of the tiny model
    concepts, seen = discover_concepts(model, _loader(), topk=2, progress=False,
                                       centroids=centroids, stage='backbone')
    assert seen == 6 and sorted(concepts) == list(range(4))
    assert any(concepts.values())
    for segs in concepts.values():
        assert all(-1 <= seg.score <= 1 and seg.mask.shape == (64, 64) for seg in segs)
    config = write_eval_config(tmp_path, TINY_SLOTCON, num_samples=4)
    tool = _load_tool('visualize_concepts')
    summary = tool.main([config, 'none', '--out', str(tmp_path / 'km'), '--topk', '2',
                         '--tile-size', '32', '--num-overlays', '1', '--device', 'cpu',
                         '--kmeans', '3', '--feature-source', 'neck'])
    assert summary['num_prototypes'] == 3 and summary['concept_source'] == 'kmeans'
    assert cv2.imread(str(tmp_path / 'km' / 'concepts.png')).shape == (2 + 3 * 34,
                                                                       48 + 2 + 2 * 34, 3)


def test_save_png_full_and_palette(tmp_path):
    from mmdense.visualization.concepts import save_png
    img = np.random.default_rng(0).integers(0, 256, (20, 30, 3), np.uint8)
    save_png(str(tmp_path / 'full.png'), img)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'full.png')), img)
    save_png(str(tmp_path / 'pal.png'), img, max_colors=16)
    back = cv2.imread(str(tmp_path / 'pal.png'))
    assert back.shape == img.shape
    assert len(np.unique(back.reshape(-1, 3), axis=0)) <= 16
    with pytest.raises(ValueError, match='max_colors'):
        save_png(str(tmp_path / 'bad.png'), img, max_colors=1)
