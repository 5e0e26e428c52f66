# Copyright (c) mmdense contributors. All rights reserved.
"""UpsampledLinearHead: the ViCE-style linear probe (features upsampled to the
input resolution, then one 1x1 conv)."""
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.models.decode_heads import FCNHead
from mmseg.structures import SegDataSample

from mmdense.models.heads.linear_probe_head import UpsampledLinearHead


def _heads(normalize=False, classes=5, channels=16):
    torch.manual_seed(0)
    common = dict(in_channels=channels, channels=channels, num_classes=classes, in_index=0,
                  dropout_ratio=0.0, norm_cfg=None, align_corners=False)
    with DefaultScope.overwrite_default_scope('mmseg'):  # mmseg's CrossEntropyLoss
        ours = UpsampledLinearHead(normalize=normalize, **common)
        ref = FCNHead(num_convs=0, concat_input=False, **common)
    ref.conv_seg.load_state_dict(ours.conv_seg.state_dict())
    return ours, ref


METAS = [dict(img_shape=(40, 56), pad_shape=(40, 56), ori_shape=(40, 56))] * 2


def test_it_is_one_1x1_conv():
    head, _ = _heads()
    params = {k: tuple(p.shape) for k, p in head.named_parameters()}
    assert params == {'conv_seg.weight': (5, 16, 1, 1), 'conv_seg.bias': (5, )}


def test_logits_are_computed_at_the_input_resolution():
    head, _ = _heads()
    feats = (torch.randn(2, 16, 5, 7), )
    assert head(feats, (40, 56)).shape == (2, 5, 40, 56)
    assert head(feats).shape == (2, 5, 5, 7)
    assert head.predict(feats, METAS, {}).shape == (2, 5, 40, 56)


def test_without_normalisation_it_equals_mmseg_linear_probe():
    """Bilinear upsampling and a 1x1 conv commute (weights of an output pixel
    sum to one): the ViCE order gives mmseg's logits."""
    head, ref = _heads()
    feats = (torch.randn(2, 16, 5, 7), )
    torch.testing.assert_close(head.predict(feats, METAS, {}), ref.predict(feats, METAS, {}),
                               rtol=1e-4, atol=1e-5)


def test_normalisation_after_upsampling_changes_the_logits():
    head, ref = _heads(normalize=True)
    feats = (torch.randn(2, 16, 5, 7), )
    assert not torch.allclose(head.predict(feats, METAS, {}), ref.predict(feats, METAS, {}),
                              atol=1e-3)
    up = torch.nn.functional.interpolate(feats[0], size=(40, 56), mode='bilinear',
                                         align_corners=False)
    expected = head.conv_seg(torch.nn.functional.normalize(up, dim=1))
    torch.testing.assert_close(head(feats, (40, 56)), expected)


def test_loss_reads_full_resolution_logits():
    head, _ = _heads()
    samples = []
    for _ in range(2):
        s = SegDataSample()
        label = torch.randint(0, 5, (1, 40, 56))
        label[:, :2] = 255
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    losses = head.loss((torch.randn(2, 16, 5, 7), ), samples, {})
    assert torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    assert head.conv_seg.weight.grad is not None


def test_refuses_a_projection_and_bad_modes():
    with pytest.raises(ValueError, match='channels'):
        UpsampledLinearHead(in_channels=16, channels=8, num_classes=3)
    with pytest.raises(ValueError, match='upsample_mode'):
        UpsampledLinearHead(in_channels=16, channels=16, num_classes=3, upsample_mode='area')


def test_resolves_from_mmseg_scoped_configs():
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        assert MODELS.get('mmdense.UpsampledLinearHead') is UpsampledLinearHead
