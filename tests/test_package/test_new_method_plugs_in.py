# Copyright (c) mmdense contributors. All rights reserved.
"""A new method is its algorithm file and its config: the evaluation, the
concept visualiser and the backbone exporter take it as it is, through the
inference interface of ``BaseDenseSelfSupervisor`` (no edit to them)."""
import copy
import os.path as osp

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner, save_checkpoint

from mmdense.apis import export_backbone
from mmdense.evaluation import run_unsup_eval
from mmdense.models.algorithms.base import BaseDenseSelfSupervisor
from mmdense.registry import MODELS
from mmdense.visualization import discover_concepts

from tests.harness.paths import REPO


# ----------------------------------------------------------- the whole new method
@MODELS.register_module(name='ToyDenseMethod', force=True)
class ToyDenseMethod(BaseDenseSelfSupervisor):
    """EMA teacher over backbone + neck, K prototypes scored by cosine."""
    teacher_follows = ('backbone', 'neck', 'prototypes')

    def __init__(self, backbone, neck, num_prototypes=5, dim=8, **kwargs):
        super().__init__(backbone, neck, **kwargs)
        self.prototypes = nn.Linear(dim, num_prototypes, bias=False)
        self.build_teacher(momentum=0.9)

    def loss(self, inputs, data_samples):
        self.update_teacher()
        return dict(loss=self.neck(self.backbone(inputs[0])).pow(2).mean())

    @property
    def num_clusters(self):
        return self.prototypes.out_features

    def dense_logits(self, inputs, size=None):
        net = self.inference_network()
        z = F.normalize(net.neck(net.backbone(inputs)), dim=1)
        cos = torch.einsum('kd,bdhw->bkhw', F.normalize(net.prototypes.weight, dim=1), z)
        return F.interpolate(cos, size=size or inputs.shape[-2:], mode='bilinear')
# -----------------------------------------------------------


TOY = dict(
    type='ToyDenseMethod',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                  strides=(1, 2, 2, 1), out_indices=(3, )),
    neck=dict(type='MLPNeck', in_channels=64, hid_channels=32, out_channels=16, dense=True),
    dim=16,
    data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], to_rgb=True),
)


def _loader(num_images=6):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'slotcon',
                                   'slotcon_resnet18-narrow_1xb32-400iters_synthetic.py'))
    loader = copy.deepcopy(cfg.test_dataloader)
    loader.update(batch_size=3, num_workers=0, persistent_workers=False)
    loader.dataset.update(num_samples=num_images, img_size=64)
    return Runner.build_dataloader(loader.to_dict())


def _model():
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(TOY))
    model.init_weights()
    return model.eval()


def test_the_toy_method_trains_a_step():
    model = _model().train()
    losses = model.loss([torch.randn(2, 3, 32, 32)], [])
    losses['loss'].backward()
    assert int(model.teacher.steps) == 1 and model.backbone.conv1.weight.grad is not None


def test_kmeans_and_prototype_evaluation_take_it():
    model, loader = _model(), _loader()
    kmeans = run_unsup_eval(model, loader, mode='kmeans', num_clusters=8, seeds=1, niter=5,
                            progress=False)
    assert kmeans[0]['num_clusters'] == 8 and 0 <= kmeans[0]['mIoU'] <= 100
    proto = run_unsup_eval(model, loader, mode='prototype', progress=False)
    assert proto[0]['num_clusters'] == 5  # from model.num_clusters


def test_concept_visualiser_takes_it():
    concepts, seen = discover_concepts(_model(), _loader(), topk=2, progress=False)
    assert seen == 6 and set(concepts) == set(range(5))
    assert any(concepts.values())


def test_exporter_takes_its_teacher_backbone(tmp_path):
    model = _model()
    with torch.no_grad():
        for p in model.teacher.module.backbone.parameters():
            p.add_(1.0)  # teacher differs from student: the export must take the teacher
    ckpt = str(tmp_path / 'toy.pth')
    save_checkpoint(dict(state_dict=model.state_dict(),
                         meta=dict(cfg=Config(dict(model=TOY)).pretty_text)), ckpt)
    out = export_backbone(ckpt, str(tmp_path / 'backbone.pth'))
    teacher = model.teacher.module.backbone.state_dict()
    assert set(out['state_dict']) == set(teacher)
    assert all(torch.equal(out['state_dict'][k], v) for k, v in teacher.items())
    assert out['meta']['prefix'] == 'teacher.module.backbone.'
    assert np.isfinite(sum(float(v.float().sum()) for v in out['state_dict'].values()))
