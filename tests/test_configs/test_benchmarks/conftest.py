# Copyright (c) mmdense contributors. All rights reserved.
"""Fixtures of the transfer-benchmark tests: an mmdense-style ResNet-50
checkpoint and its exported backbone; per test, one torch thread and mmengine's
global managers (default scope, message hub, logger, visualizer) restored."""
import importlib.util
import os
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import DefaultScope
from mmengine.visualization import Visualizer

from tests.harness.paths import REPO

TEACHER = 'teacher.module.backbone.'


def load_tool(relpath: str):
    """Import a script under tools/ as a module."""
    path = osp.join(REPO, 'tools', relpath)
    name = 'mmdense_tool_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: on 2 CPU cores shared with other jobs, two OpenMP
    threads spin-wait on each other; measured here, the ADE20K FCN run took 27 s
    with two threads and 4 s with one, the directory about 2.5x as long."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _restore_global_managers():
    """These tests create 'mmdet' / 'mmseg' default scopes and Runners (each with
    its MessageHub holding max_iters, logger and visualizer); mmengine makes the
    latest of each "current". Put the earlier ones back afterwards, so that later
    tests find the 'mmdense' scope and no stray MessageHub."""
    managers = (DefaultScope, MessageHub, MMLogger, Visualizer)
    saved = [OrderedDict(m._instance_dict) for m in managers]
    # every Visualizer subclass (SegLocalVisualizer, DetLocalVisualizer ...) keeps
    # instances of its own: without this, a later Runner's visualizer of the same name is
    # the earlier test's one (its save_dir included)
    visualizers = {cls: OrderedDict(cls._instance_dict) for cls in _subclasses(Visualizer)}
    try:
        yield
    finally:
        for manager, instances in zip(managers, saved):
            manager._instance_dict = instances
        for cls in _subclasses(Visualizer):  # classes imported during the test had none
            cls._instance_dict = visualizers.get(cls, OrderedDict())


def _subclasses(cls) -> list:
    found = []
    for sub in cls.__subclasses__():
        found += [sub] + _subclasses(sub)
    return found


def randomize_buffers(module: torch.nn.Module, seed: int) -> None:
    """Non-default BN statistics, so that a backbone whose buffers were not
    loaded (running_mean 0, running_var 1) cannot pass for a loaded one."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buf in module.named_buffers():
            if name.endswith('running_mean'):
                buf.copy_(torch.randn(buf.shape, generator=gen) * 0.1)
            elif name.endswith('running_var'):
                buf.copy_(torch.rand(buf.shape, generator=gen) + 0.5)
            elif name.endswith('num_batches_tracked'):
                buf.fill_(1234)


@pytest.fixture(scope='session')
def r50_checkpoint(tmp_path_factory):
    """An mmdense-layout checkpoint holding a ResNet-50 teacher backbone, and its export.

    Returns:
        dict: ``full`` (the mmdense checkpoint), ``backbone`` (the export) and
        ``expected`` (backbone state dict the downstream models must hold).
    """
    from mmengine.logging import HistoryBuffer
    from mmpretrain.models import ResNet

    from mmdense.utils import install_checkpoint_safety
    # as in an mmdense training run (tools/train.py installs it before any save):
    # HistoryBuffer then pickles as data. Without it the file depends on test order
    # (a config parse imports mmdense.safety) and a -k selection of the e2e tests fails.
    install_checkpoint_safety()
    torch.manual_seed(0)
    net = ResNet(depth=50, out_indices=(3, ))  # SlotCon's encoder
    net.init_weights()
    randomize_buffers(net, seed=1)
    expected = {k: v.clone() for k, v in net.state_dict().items()}
    state_dict = {TEACHER + k: v for k, v in expected.items()}
    state_dict['teacher.module.neck.mlp.0.weight'] = torch.randn(8, 2048, 1, 1)
    state_dict['teacher.steps'] = torch.tensor(7)
    state_dict['grouping.prototypes'] = torch.randn(4, 8)
    root = tmp_path_factory.mktemp('r50')
    full = str(root / 'iter_100.pth')
    loss = HistoryBuffer()  # as in a training checkpoint's message hub
    loss.update(1.0)
    torch.save(dict(state_dict=state_dict,
                    meta=dict(epoch=0, iter=100, seed=0, cfg='model = dict(type="SlotCon")'),
                    message_hub=dict(log_scalars={'train/loss': loss})), full)
    backbone = str(root / 'backbone.pth')
    assert load_tool('model_converters/extract_backbone.py').main([full, backbone]) == 0
    yield dict(full=full, backbone=backbone, expected=expected)
    for path in (full, backbone):  # 100 MB each; pytest keeps its last temp dirs
        os.remove(path)
