# Copyright (c) mmdense contributors. All rights reserved.
"""MaskContrast's transfer configs load the whole pre-trained network from the
training checkpoint: the linear classifier on the frozen decoder features and
the semi-supervised fine-tuning with the decoder as the ASPP decode head.

A tiny MaskContrast (``tests/harness/maskcontrast_tiny.py``) is saved as an
mmengine checkpoint; each config's model, shrunk to the same widths, must hold
its tensors exactly after ``init_weights``, compute the same decoder features,
and train only what the protocol trains."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmdense.models.utils.strict_pretrained import StrictPretrainedError
from tests.harness.logs import LogCapture
from tests.harness.maskcontrast_tiny import TINY_MASKCONTRAST, build_tiny_maskcontrast

from .conftest import REPO, randomize_buffers

BENCH = osp.join(REPO, 'configs', 'benchmarks')
PROBE = osp.join(BENCH, 'linear_seg', 'linear-decoder_r50-d8-aspp_8xb2-40k_voc12aug-512x512.py')
SEMI = osp.join(BENCH, 'semi_voc', 'deeplabv3_r50-d8_4xb2-20k_voc12aug-1pct_maskcontrast-init.py')
# the tiny network's widths, for the configs' ResNet-50 / 256-channel parts
TINY_BACKBONE = dict(depth=18, stem_channels=8, base_channels=8)
TINY_DECODER = dict(in_channels=64, channels=16, dilations=(1, 2, 3))


@pytest.fixture(scope='module')
def maskcontrast_checkpoint(tmp_path_factory):
    """A trained-looking tiny MaskContrast saved as mmengine saves it."""
    model = build_tiny_maskcontrast(seed=3)
    randomize_buffers(model, seed=4)  # statistics a fresh network does not have
    # and weights a fresh one does not have: zero_init_residual leaves every residual
    # branch silent at init, so the backbone's dilations would not show in its features
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * 0.1)
    path = str(tmp_path_factory.mktemp('mc') / 'iter_10.pth')
    torch.save(dict(meta=dict(cfg=f'model = {TINY_MASKCONTRAST!r}'),
                    state_dict=model.state_dict()), path)
    return path, model


def tiny_cfg(path: str, checkpoint: str) -> Config:
    cfg = copy.deepcopy(Config.fromfile(path))
    cfg.model.backbone.update(TINY_BACKBONE, init_cfg=dict(cfg.model.backbone.init_cfg,
                                                           checkpoint=checkpoint))
    cfg.model.backbone.norm_cfg = dict(type='BN', requires_grad=cfg.model.backbone.get(
        'norm_cfg', {}).get('requires_grad', True))
    if cfg.model.get('neck'):
        cfg.model.neck.update(TINY_DECODER)
        cfg.model.neck.init_cfg.checkpoint = checkpoint
        cfg.model.decode_head.update(in_channels=16, channels=16)
    else:  # the decode head is the decoder
        head = cfg.model.decode_head
        head.update(TINY_DECODER, in_index=-1, norm_cfg=dict(type='BN', requires_grad=True))
        for init in head.init_cfg:
            if 'checkpoint' in init:
                init.checkpoint = checkpoint
    cfg.model.data_preprocessor.pop('size', None)
    return cfg


def build(cfg: Config):
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    with LogCapture() as log:
        model.init_weights()
    return model, log


def assert_holds(module, expected: dict, prefix: str, skip=()):
    state = {k: v for k, v in module.state_dict().items() if not k.startswith(skip)}
    theirs = {k[len(prefix):]: v for k, v in expected.items() if k.startswith(prefix)}
    assert set(state) == set(theirs), set(state) ^ set(theirs)
    different = [k for k, v in state.items() if not torch.equal(v, theirs[k])]
    assert not different, f'{len(different)} tensors not loaded, e.g. {different[:3]}'


def test_probe_config_states_the_protocol():
    cfg = Config.fromfile(PROBE)
    assert cfg.model.neck.frozen is True and cfg.model.backbone.frozen_stages == 4
    assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
    assert cfg.model.neck.init_cfg.prefix == 'neck.'
    assert cfg.model.backbone.init_cfg.checkpoint == cfg.model.neck.init_cfg.checkpoint
    assert (cfg.model.backbone.strides, cfg.model.backbone.dilations) == ((1, 2, 1, 1), (1, 1, 2, 4))
    head = cfg.model.decode_head
    assert (head.type, head.num_convs, head.in_channels, head.num_classes) == ('FCNHead', 0, 256, 21)
    # SPEC §4: 60 epochs of train_aug at batch 16, SGD 0.1 -> 0.01 at epoch 40
    assert cfg.train_cfg.max_iters == 40000 and cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.optim_wrapper.optimizer.lr == 0.1
    assert cfg.param_scheduler[0].milestones == [40000 * 2 // 3]
    assert cfg.crop_size == (512, 512)


def test_probe_loads_backbone_and_decoder_and_trains_only_the_classifier(maskcontrast_checkpoint):
    path, network = maskcontrast_checkpoint
    model, log = build(tiny_cfg(PROBE, path))
    assert not log.mismatches(), log.mismatches()
    expected = network.state_dict()
    assert_holds(model.backbone, expected, 'backbone.')
    assert_holds(model.neck, expected, 'neck.')
    # the decoder features are MaskContrast's own ('neck' stage of the interface)
    network.eval()
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = model.extract_feat(x)
        assert torch.allclose(feats[0], network.extract_dense(x, 'neck'), atol=1e-6)
        # the whole segmentor runs: (B, classes, H, W) logits at the input size
        logits = model.encode_decode(x, [dict(img_shape=(64, 64))] * 2)
    assert logits.shape == (2, 21, 64, 64)
    # only the 1x1 classifier trains; frozen BN statistics stay the pre-trained ones
    model.train()
    trainable = {k for k, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'decode_head.conv_seg.weight', 'decode_head.conv_seg.bias'}
    assert not any(m.training for m in model.neck.modules()
                   if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
    before = copy.deepcopy(model.state_dict())
    samples = [SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 21, (1, 64, 64))),
                             metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64)))
               for _ in range(2)]
    losses = model.loss(x, samples)
    losses['decode.loss_ce'].backward()
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.).step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {'decode_head.conv_seg.weight', 'decode_head.conv_seg.bias'}


def test_probe_refuses_a_checkpoint_without_the_decoder(maskcontrast_checkpoint, tmp_path):
    path, network = maskcontrast_checkpoint
    backbone_only = str(tmp_path / 'no_neck.pth')
    torch.save(dict(state_dict={k: v for k, v in network.state_dict().items()
                                if k.startswith('backbone.')}), backbone_only)
    with pytest.raises(StrictPretrainedError, match=r"no_neck\.pth.*prefix 'neck\.'"):
        build(tiny_cfg(PROBE, backbone_only))


def test_semi_supervised_starts_from_the_whole_network(maskcontrast_checkpoint):
    cfg = Config.fromfile(SEMI)
    assert cfg.model.decode_head.type == 'ASPPHead' and cfg.model.decode_head.channels == 256
    assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
    path, network = maskcontrast_checkpoint
    torch.manual_seed(0)
    model, log = build(tiny_cfg(SEMI, path))
    assert not log.mismatches(), log.mismatches()
    expected = network.state_dict()
    assert_holds(model.backbone, expected, 'backbone.')
    # the ASPP decoder loaded (mmcv's ConvModule did not re-initialise it afterwards) ...
    assert_holds(model.decode_head, expected, 'neck.', skip=('conv_seg.', ))
    # ... and the new classifier kept its own init (Normal, std 0.01, bias 0)
    conv_seg = model.decode_head.conv_seg
    assert conv_seg.weight.std() < 0.05 and torch.all(conv_seg.bias == 0)
    assert any('keep their own initialisation' in m for m in log.messages)
    # the features are the pre-trained network's: same dilations (no contraction), same decoder
    # (64 px: on the 4 x 4 maps of a 32 px input a contracted dilation went unnoticed)
    network.eval()
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = model.extract_feat(x)
        assert torch.allclose(feats[-1], network.extract_dense(x, 'backbone'), atol=1e-6)
        decoder = model.decode_head._forward_feature(feats)
        assert torch.allclose(decoder, network.extract_dense(x, 'neck'), atol=1e-6)
        assert model.encode_decode(x, [dict(img_shape=(64, 64))] * 2).shape == (2, 21, 64, 64)


def test_semi_supervised_fraction_override_from_the_header_parses():
    """The header's --cfg-options for another fraction parse and reach both lists."""
    from mmengine.config import DictAction
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args([
        '--cfg-options',
        'train_dataloader.dataset.datasets.0.ann_file=ImageSets/Segmentation/semi/5pct_seed0_train.txt',
        'train_dataloader.dataset.datasets.1.ann_file=ImageSets/Segmentation/semi/5pct_seed0_rest.txt'])
    cfg = Config.fromfile(SEMI)
    cfg.merge_from_dict(args.cfg_options)
    train, rest = cfg.train_dataloader.dataset.datasets
    assert train.ann_file.endswith('5pct_seed0_train.txt') and train.pipeline
    assert rest.ann_file.endswith('5pct_seed0_rest.txt')
    assert cfg.model.decode_head.channels == 256  # the MaskContrast init is kept
