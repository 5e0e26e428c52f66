# Copyright (c) mmdense contributors. All rights reserved.
"""Object k-means with the model's saliency head as background: the metric of
the test loop (``ObjectKMeansMetric``) and the driver's ``saliency_fn='model'``."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmdense.evaluation.dense import objects_from_probability, run_unsup_eval
from mmdense.evaluation.metrics import ObjectKMeansMetric
from tests.harness.maskcontrast_tiny import build_tiny_maskcontrast


def test_background_classes_merge_and_renumber():
    metric = ObjectKMeansMetric(num_classes=3, background_classes=[0, 2])
    gt = np.array([[0, 1, 2, 3, 255]])
    assert metric._labels(gt).tolist() == [[0, 1, 0, 2, 255]]


def test_objects_from_probability():
    prob = np.zeros((5, 5))
    prob[0, 0] = prob[4, 4] = 0.9
    assert objects_from_probability(prob).max() == 1
    assert objects_from_probability(prob, split_components=True).max() == 2


def _samples(num, planted_separable=True):
    """Images whose two planted objects (classes 1 / 2) have separable features."""
    out = []
    for i in range(num):
        feats = torch.zeros(4, 8, 8)
        objects = np.zeros((8, 8), np.int64)
        gt = np.zeros((8, 8), np.int64)
        objects[:4, :4], gt[:4, :4] = 1, 1 + i % 2
        feats[i % 2, :4, :4] = 1.  # class 1 -> axis 0, class 2 -> axis 1
        feats[2, 4:, 4:] = 1.
        out.append(dict(dense_feats=feats, gt_saliency=objects,
                        gt_sem_seg=dict(data=torch.from_numpy(gt)[None])))
    return out


def test_metric_with_planted_objects_is_perfect():
    metric = ObjectKMeansMetric(num_classes=3, saliency='gt_saliency', pca_dim=None,
                                whiten=False, seeds=2)
    metric.process({}, _samples(8))
    scores = metric.compute_metrics(metric.results)
    assert scores['mIoU'] == pytest.approx(100.)
    assert scores['num_objects'] == 8
    with pytest.raises(KeyError, match='pred_saliency'):
        ObjectKMeansMetric(num_classes=3).process({}, _samples(1))


def test_predict_feeds_the_metric_and_the_driver_takes_model_saliency():
    model = build_tiny_maskcontrast().eval()
    x = torch.randn(4, 3, 32, 32)
    samples = [SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 3, (1, 32, 32))))
               for _ in range(4)]
    out = model.predict(x, samples)
    metric = ObjectKMeansMetric(num_classes=3, saliency='model', threshold=-1., pca_dim=None,
                                whiten=False, seeds=1)  # threshold -1: every pixel salient
    metric.process({}, [o.to_dict() for o in out])
    assert metric.compute_metrics(metric.results)['num_objects'] == 4

    class Loader(list):
        dataset = None

    batch = dict(inputs=[img for img in (x * 30 + 128).clamp(0, 255).byte()],
                 data_samples=samples)
    results = run_unsup_eval(model, Loader([batch]), mode='object-kmeans', num_classes=3,
                             num_clusters=2, seeds=1, saliency_fn='model', progress=False)
    assert results[0]['num_clusters'] == 2
