# Copyright (c) mmdense contributors. All rights reserved.
"""A tiny MaskContrast and a matching fake batch, shared by its model tests."""
import torch
from mmpretrain.structures import DataSample

from mmdense.registry import MODELS

TINY_MASKCONTRAST = dict(
    type='MaskContrast',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                  strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(3, )),
    neck=dict(type='ASPPNeck', in_channels=64, channels=16, dilations=(1, 2, 3)),
    head=dict(type='EmbeddingSaliencyHead', in_channels=16, embed_dim=8),
    contrast_loss=dict(type='PixelPrototypeContrastLoss', temperature=0.5),
    saliency_loss=dict(type='SaliencyBCELoss', balanced=True),
    queue_length=6,
    max_objects=2,
)


def build_tiny_maskcontrast(seed: int = 0, **changes):
    torch.manual_seed(seed)
    model = MODELS.build(dict(TINY_MASKCONTRAST, **changes))
    model.init_weights()
    return model


def fake_batch(batch_size: int, size: int = 32, seed: int = 0):
    """Two views and data samples whose ``gt_saliency`` maps hold two
    rectangular objects (ids 1 and 2) per view, at random places."""
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(batch_size, 3, size, size, generator=gen) for _ in range(2)]
    samples = []
    for _ in range(batch_size):
        masks = torch.zeros(2, size, size, dtype=torch.uint8)
        for v in range(2):
            for obj in (1, 2):
                y, x = torch.randint(0, size - 10, (2, ), generator=gen).tolist()
                h, w = torch.randint(4, 10, (2, ), generator=gen).tolist()
                masks[v, y:y + h, x:x + w] = obj
        ds = DataSample()
        ds.set_field({'gt_saliency': masks}, 'view_seg_maps')
        samples.append(ds)
    return views, samples


DEMO = 'configs/maskcontrast/maskcontrast_resnet18-narrow-d8_1xb16-300iters_synthetic.py'


def tiny_train_config(path: str, max_iters: int = 6, interval: int = 3, **changes) -> str:
    """The MaskContrast demo config shrunk to seconds (batch 4, 64 px scenes,
    32 px views, a narrower network), deterministic, logging every
    iteration; dumped to ``path``."""
    import os.path as osp
    from mmengine.config import Config
    from tests.harness.paths import REPO
    from tests.harness.reliability import IMPORTS
    cfg = Config.fromfile(osp.join(REPO, DEMO))
    cfg.custom_imports = dict(imports=IMPORTS + ['tests.harness.maskcontrast_tiny'],
                              allow_failed_imports=False)
    loader = cfg.train_dataloader
    loader.batch_size = 4
    loader.num_workers = 0
    loader.persistent_workers = False
    loader.dataset.num_samples = 20
    loader.dataset.img_size = 64
    loader.dataset.pipeline[0].crop.view_groups[0].size = 32
    cfg.model.backbone.update(stem_channels=8, base_channels=8)
    cfg.model.neck.update(in_channels=64, channels=16)
    cfg.model.head.update(in_channels=16)
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters + 1
    cfg.param_scheduler[0].end = max_iters
    cfg.default_hooks.checkpoint = dict(type='SafeCheckpointHook', interval=interval,
                                        by_epoch=False, max_keep_ckpts=3)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(by_epoch=False, window_size=1, custom_cfg=[])
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.custom_hooks = [dict(type='RandomStateHook')]
    cfg.merge_from_dict(changes)
    cfg.dump(path)
    return path


from mmengine.hooks import Hook  # noqa: E402

from mmdense.registry import HOOKS  # noqa: E402


class StopTraining(RuntimeError):
    """Raised by :class:`StopAfterHook` (an interrupted run)."""


@HOOKS.register_module()
class StopAfterHook(Hook):
    """Interrupt training after iteration ``at`` (after its checkpoint)."""

    priority = 'LOWEST'

    def __init__(self, at: int) -> None:
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at:
            raise StopTraining(f'stopped after iteration {self.at}')
