# Copyright (c) mmdense contributors. All rights reserved.
"""The supervised reference steps of the ``step`` stage, and each method's target.

A reference is a plain supervised step (forward, loss, backward, SGD
momentum 0.9) of a network a user would train anyway, timed in the same run
as the subject's ``train_step``:

- ``same_backbone``: the config's ``model.backbone`` rebuilt standalone,
  global average pooling (mean of tokens for a ViT) + linear 1000 + CE.
- ``torchvision_resnet50``: torchvision's ResNet-50 + CE (ResNet-50
  backbones only).
- ``deeplabv3_r50_os8``: mmseg's DeepLabV3 as its model zoo trains it
  (``ResNetV1c``-50, strides (1, 2, 1, 1), dilations (1, 1, 2, 4), i.e.
  output stride 8; ``ASPPHead`` 512 channels, dilations (1, 12, 24, 36));
  21 classes, CE on logits upsampled to the input size, no auxiliary head.

``views``: ``'first'`` runs the reference on B images of the first view's
size; ``'all'`` on all V crops of the subject's batch (B x V crops, one
forward per view size), i.e. the same number of crops as the subject.

:data:`METHOD_STEP_TARGETS` names, per algorithm, the reference its issue
compares with, the views and the minimum ratio; command-line options
override the reference and the views.
"""
import copy
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

#: per algorithm type: the main reference, the reference's views and the
#: issue's minimum ratio subject / reference
METHOD_STEP_TARGETS: Dict[str, dict] = dict(
    SlotCon=dict(reference='torchvision_resnet50', views='first', min_ratio=0.40),
    CrOC=dict(reference='same_backbone', views='all', min_ratio=0.55),
    ViCE=dict(reference='same_backbone', views='all', min_ratio=0.65),
    MaskContrast=dict(reference='deeplabv3_r50_os8', views='first', min_ratio=0.80),
)
REFERENCE_VIEWS = ('first', 'all')


def method_step_target(model_cfg: dict) -> Optional[dict]:
    """:data:`METHOD_STEP_TARGETS` entry of ``model_cfg['type']`` (None if unknown)."""
    kind = str(model_cfg.get('type', '')).split('.')[-1]
    target = METHOD_STEP_TARGETS.get(kind)
    return None if target is None else dict(target, method=kind)


class SupervisedClassifier(nn.Module):
    """Backbone -> global average pooling (token mean) -> linear classifier."""

    def __init__(self, backbone: nn.Module, channels: int, num_classes: int = 1000) -> None:
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, num_classes) logits."""
        out = self.backbone(x)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        if out.dim() == 4:
            out = out.mean((2, 3))
        elif out.dim() == 3:  # tokens
            out = out.mean(1)
        return self.fc(out)


class SupervisedSegmenter(nn.Module):
    """Backbone -> decode head -> logits upsampled to the input size."""

    def __init__(self, backbone: nn.Module, decode_head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.decode_head = decode_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, num_classes, H, W) logits."""
        logits = self.decode_head(self.backbone(x))
        return F.interpolate(logits, size=x.shape[-2:], mode='bilinear', align_corners=False)


def _same_backbone(backbone_cfg: dict) -> nn.Module:
    from mmdense.registry import MODELS
    backbone = MODELS.build(copy.deepcopy(backbone_cfg))
    if hasattr(backbone, 'init_weights'):
        backbone.init_weights()
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, 64, 64))
    backbone.train(was_training)
    out = out[-1] if isinstance(out, (tuple, list)) else out
    channels = out.shape[1] if out.dim() == 4 else out.shape[-1]
    return SupervisedClassifier(backbone, int(channels))


def _torchvision_resnet50(backbone_cfg: dict) -> nn.Module:
    import torchvision
    return torchvision.models.resnet50(weights=None)


def _deeplabv3_r50_os8(backbone_cfg: dict) -> nn.Module:
    from mmseg.models.backbones import ResNetV1c
    from mmseg.models.decode_heads import ASPPHead
    backbone = ResNetV1c(depth=50, num_stages=4, out_indices=(3, ), strides=(1, 2, 1, 1),
                         dilations=(1, 1, 2, 4), contract_dilation=True,
                         norm_cfg=dict(type='BN', requires_grad=True))
    head = ASPPHead(in_channels=2048, in_index=0, channels=512, dilations=(1, 12, 24, 36),
                    dropout_ratio=0.1, num_classes=21, norm_cfg=dict(type='BN', requires_grad=True),
                    align_corners=False)
    backbone.init_weights()
    return SupervisedSegmenter(backbone, head)


def _is_resnet50(backbone_cfg: dict) -> bool:
    kind = str(backbone_cfg.get('type', '')).split('.')[-1]
    return kind in ('ResNet', 'ResNetV1c', 'ResNetV1d') and backbone_cfg.get('depth') == 50


def backbone_desc(backbone_cfg: dict) -> str:
    """e.g. ``ResNet-50``, ``VisionTransformer-small``."""
    kind = str(backbone_cfg.get('type', '?')).split('.')[-1]
    depth = backbone_cfg.get('depth') or backbone_cfg.get('arch')
    return f'{kind}-{depth}' if depth is not None else kind


#: key -> (description(backbone_cfg), builder(backbone_cfg), task)
_BUILDERS: Dict[str, Tuple[Callable[[dict], str], Callable[[dict], nn.Module], str]] = dict(
    same_backbone=(lambda c: f'supervised step, same backbone ({backbone_desc(c)}) + GAP + '
                   'linear + CE, SGD', _same_backbone, 'cls'),
    torchvision_resnet50=(lambda c: 'supervised step, torchvision ResNet-50, CE, SGD',
                          _torchvision_resnet50, 'cls'),
    deeplabv3_r50_os8=(lambda c: 'supervised segmentation step, mmseg DeepLabV3 (ResNetV1c-50 '
                       'OS8, ASPP 512) + CE at input size, SGD', _deeplabv3_r50_os8, 'seg'),
)
STEP_REFERENCES = tuple(_BUILDERS)


def default_references(backbone_cfg: dict, target: Optional[dict]) -> List[str]:
    """same_backbone, + torchvision_resnet50 for a ResNet-50, + the method's own
    (torchvision's ResNet-50 only where the backbone is one)."""
    keys = ['same_backbone']
    if _is_resnet50(backbone_cfg):
        keys.append('torchvision_resnet50')
    own = target['reference'] if target else None
    if own and own not in keys and own != 'torchvision_resnet50':
        keys.append(own)
    return keys


def build_reference_step(key: str, backbone_cfg: dict, views: Sequence[torch.Tensor],
                         precision: str, device: str, autocast) -> Tuple[str, Callable[[], float]]:
    """``(description, step)`` of reference ``key`` on the uint8 batches ``views``.

    Args:
        key (str): one of :data:`STEP_REFERENCES`.
        backbone_cfg (dict): the config's ``model.backbone``.
        views (Sequence[Tensor]): (B, 3, s, s) uint8 batches, one forward and
            loss each per step (losses summed, one backward).
        precision (str): 'fp32' / 'bf16'.
        device (str): where to run.
        autocast (callable): ``autocast(device, precision)`` context factory.
    """
    if key not in _BUILDERS:
        raise ValueError(f'unknown reference {key!r}; choose from {STEP_REFERENCES}')
    describe, build, task = _BUILDERS[key]
    if key == 'torchvision_resnet50' and not _is_resnet50(backbone_cfg):
        raise ValueError('the torchvision_resnet50 reference needs a ResNet-50 backbone')
    net = build(backbone_cfg).to(device).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    mean = torch.tensor([123.675, 116.28, 103.53], device=device).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375], device=device).view(1, 3, 1, 1)
    gen = torch.Generator().manual_seed(1)
    if task == 'cls':
        labels = [torch.randint(0, 1000, (v.shape[0], ), generator=gen).to(device) for v in views]
    else:
        labels = [torch.randint(0, 21, (v.shape[0], *v.shape[-2:]), generator=gen).to(device)
                  for v in views]

    def step() -> float:
        total = 0.
        with autocast(device, precision):
            for batch, target in zip(views, labels):
                total = total + F.cross_entropy(net((batch.float() - mean) / std), target)
        total.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(total.detach())

    return describe(backbone_cfg), step
