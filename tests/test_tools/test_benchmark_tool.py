# Copyright (c) mmdense contributors. All rights reserved.
"""tools/analysis_tools/benchmark.py (mmdense.apis.benchmark): every stage
runs on a tiny setting, prints both rates and their ratio, writes its JSON.
No timing is asserted (a slow or busy machine must not fail these)."""
import copy
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmdense.apis import benchmark as bench
from mmdense.utils.cpu_features import ASSUME_BF16_ENV
from tests.harness.paths import REPO as REPO_ROOT

DEMO = osp.join(REPO_ROOT, 'configs', 'slotcon',
                'slotcon_resnet18-narrow_1xb32-400iters_synthetic.py')
PAPER = osp.join(REPO_ROOT, 'configs', 'slotcon', 'slotcon_resnet50_8xb64-coslr-800e_coco.py')


def _tool():
    path = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark.py')
    spec = importlib.util.spec_from_file_location('mmdense_tools_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def jpegs(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    folder = tmp_path / 'images'
    folder.mkdir()
    for i, (h, w) in enumerate([(48, 64), (64, 48), (56, 56)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            folder / f'{i:03d}.jpg', quality=90)
    return str(folder)


def _check_common(out: str, result: dict, json_path) -> None:
    assert 'img/s' in out and 'ratio subject /' in out
    assert 'CPU:' in out and 'precision flags:' in out and 'torch ' in out
    with open(json_path) as f:
        written = json.load(f)
    assert written['stage'] == result['stage']
    for run in written['runs']:
        assert run['subject']['img_per_s'] > 0
        assert run['references'] and all(r['img_per_s'] > 0 for r in run['references'])
        assert run['ratio'] is not None and run['ratio'] > 0
        assert run['subject']['peak_rss_mib'] > 0


def test_step_stage(tmp_path, capsys):
    threads = torch.get_num_threads()
    out_json = tmp_path / 'step.json'
    result = _tool().main([DEMO, '--stage', 'step', '--batch-size', '2', '--img-size', '32',
                           '--iters', '2', '--warmup', '1', '--precision', 'fp32',
                           '--device', 'cpu', '--threads', '1', '--out', str(out_json)])
    out = capsys.readouterr().out
    _check_common(out, result, out_json)
    assert 'source images' in out
    assert torch.get_num_threads() == threads  # --threads 1 is undone afterwards
    run = result['runs'][0]
    assert run['precision'] == 'fp32' and not run['subject']['autocast']
    assert run['view_sizes'] == [32, 32] and run['batch_size'] == 2
    # the narrow ResNet-18 is not a ResNet-50: the same-backbone reference only
    assert [r['key'] for r in run['references']] == ['same_backbone']
    assert run['target']['met'] is None
    regions = run['subject']['breakdown_ms']['regions']
    for name in ('forward', 'preprocess', 'student.backbone', 'teacher.backbone', 'ema',
                 'centre', 'loss.group_loss', 'backward', 'optimizer.step', 'logging'):
        assert name in regions, name
    assert regions['backward'] > 0 and regions['teacher.backbone'] > 0
    assert 'breakdown' in out and 'forward: teacher' in out
    # FLOPs counted after the timing: SlotCon (2 views, student fwd+bwd, teacher fwd, necks)
    # does more than 8/3 of a one-view supervised step of its backbone, so the bound < 3/8
    flops = run['flops_per_step']
    assert flops['subject'] > 8 / 3 * flops['same_backbone'] > 0
    assert 0 < run['flop_bounds']['same_backbone'] < 0.375 and 'FLOP bound' in out


# the demo model made narrower still: emulated bf16 is 10-20x slower than fp32
NARROW = ['model.backbone.stem_channels=8', 'model.backbone.base_channels=8',
          'model.neck.in_channels=64', 'model.neck.hid_channels=32', 'model.neck.out_channels=16',
          'model.grouping.dim=16', 'model.predictor.in_channels=16',
          'model.predictor.hid_channels=32', 'model.predictor.out_channels=16']


def test_step_stage_bf16_on_a_cpu_without_native_bf16(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(ASSUME_BF16_ENV, '0')
    out_json = tmp_path / 'step_bf16.json'
    result = _tool().main([DEMO, '--stage', 'step', '--batch-size', '2', '--img-size', '32',
                           '--iters', '1', '--warmup', '0', '--precision', 'bf16',
                           '--no-reference', '--device', 'cpu', '--threads', '1',
                           '--out', str(out_json),
                           '--cfg-options', *NARROW])
    out = capsys.readouterr().out
    assert 'emulated' in out and 'NOTE' in out and 'img/s' in out
    assert result['precision_notes'] and json.loads(out_json.read_text())['precision_notes']
    run = result['runs'][0]
    # asked for explicitly: runs in bf16 anyway (CPUAmpOptimWrapper with force=True)
    assert run['subject']['autocast'] and run['subject']['optim_wrapper'] == 'CPUAmpOptimWrapper'
    assert run['subject']['img_per_s'] > 0 and run['references'] == []


def test_instrumentation_is_removed():
    from tests.harness.slotcon_tiny import build_tiny_slotcon, fake_batch
    model = build_tiny_slotcon()
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    from mmengine.optim import OptimWrapper
    wrapper = OptimWrapper(optimizer=optim)
    timer = bench.RegionTimer()
    inst = bench.instrument_step(model, wrapper, timer)
    views, samples = fake_batch(4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy machine makes 2 spinning threads far slower
    try:
        model.train_step(dict(inputs=views, data_samples=samples), wrapper)
    finally:
        torch.set_num_threads(threads)
    assert timer.totals['teacher.backbone'] > 0 and timer.totals['backward'] > 0
    inst.remove()
    assert not model.backbone._forward_hooks and not model.backbone._forward_pre_hooks
    assert 'update_teacher' not in vars(model) and 'backward' not in vars(wrapper)


def test_data_stage_without_and_with_loading_transform(tmp_path, capsys, jpegs):
    tool = _tool()
    out_json = tmp_path / 'data.json'
    # the demo pipeline starts at the crop: the tool decodes first
    result = tool.main([DEMO, '--stage', 'data', '--data-root', jpegs, '--iters', '3',
                        '--warmup', '1', '--out', str(out_json)])
    out = capsys.readouterr().out
    _check_common(out, result, out_json)
    assert 'mmcv.imread' in result['runs'][0]['decode']
    # the paper pipeline loads the file itself (RobustLoadImageFromFile)
    result = tool.main([PAPER, '--stage', 'data', '--data-root', jpegs, '--iters', '3',
                        '--warmup', '1', '--img-size', '32', '--out', str(out_json), '--quiet'])
    out = capsys.readouterr().out
    _check_common(out, result, out_json)
    run = result['runs'][0]
    assert run['num_files'] == 3 and run['view_size'] == 32
    assert run['references'][0]['settings']['blur_prob'] == [1.0, 0.1]
    assert run['references'][0]['settings']['solarize_prob'] == [0.0, 0.2]
    assert 'target: data pipeline >= 2.5' in out


def test_eval_stage(tmp_path, capsys):
    out_json = tmp_path / 'eval.json'
    result = _tool().main([DEMO, '--stage', 'eval', '--num-images', '4', '--img-size', '32',
                           '--num-clusters', '4', '--batch-size', '2', '--device', 'cpu',
                           '--threads', '1', '--out', str(out_json)])
    out = capsys.readouterr().out
    _check_common(out, result, out_json)
    run = result['runs'][0]
    assert run['num_images'] == 4 and run['num_clusters'] == 4
    assert set(run['subject']['breakdown_s']) == {'extract', 'fit', 'assign', 'other'}
    assert 'clustering_speedup' in run and 'projected' in out
    assert run['target']['projected'] is True


def test_optim_wrapper_for_precision():
    from mmengine.config import Config
    cfg = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper', loss_scale='dynamic',
                                         optimizer=dict(type='LARS', lr=2.0))))
    fp32 = bench.optim_wrapper_for_precision(cfg, 'fp32', 'cpu')
    assert fp32['type'] == 'OptimWrapper' and 'loss_scale' not in fp32
    bf16 = bench.optim_wrapper_for_precision(cfg, 'bf16', 'cpu')
    assert bf16['type'] == 'CPUAmpOptimWrapper' and bf16['force'] is True
    assert bench.optim_wrapper_for_precision(cfg, 'bf16', 'cuda')['type'] == 'AmpOptimWrapper'
    # CrOC's paper configs: fp16 AMP that clips per parameter; fp32 on CPU keeps the clipping
    croc = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'croc',
                                    'croc_vit-small-p16_2xb128-coslr-300e_coco.py'))
    assert croc.optim_wrapper.type == 'PerParamClipAmpOptimWrapper'
    fp32 = bench.optim_wrapper_for_precision(croc, 'fp32', 'cpu')
    assert fp32['type'] == 'PerParamClipOptimWrapper' and 'dtype' not in fp32
    assert fp32['clip_grad'] == dict(max_norm=3.0, per_parameter=True)
    from mmengine.optim import build_optim_wrapper
    from mmdense.utils import register_all_modules
    register_all_modules()
    built = build_optim_wrapper(torch.nn.Linear(2, 2), copy.deepcopy(fp32))
    assert type(built).__name__ == 'PerParamClipOptimWrapper'
    assert bench.optim_wrapper_for_precision(croc, 'bf16', 'cuda')['type'] == \
        'PerParamClipAmpOptimWrapper'
    assert bench.optim_wrapper_for_precision(croc, 'bf16', 'cpu')['type'] == 'CPUAmpOptimWrapper'
    assert bench.view_layout(Config.fromfile(PAPER)) == [224, 224]
    assert bench.view_layout(Config.fromfile(PAPER), 32) == [32, 32]


def test_bad_arguments():
    with pytest.raises(ValueError, match='stage'):
        bench.run_benchmark(DEMO, stage='train', log=None)
    with pytest.raises(ValueError, match='precision'):
        bench.run_benchmark(DEMO, precisions=['fp16'], log=None)
    with pytest.raises(FileNotFoundError):
        bench.list_images('/nonexistent/folder')


def test_step_references_deeplabv3_and_all_views(tmp_path, capsys):
    """--reference deeplabv3_r50_os8 (mmseg DeepLabV3 segmentation step) and
    --reference-views all (the reference sees the subject's B x V crops)."""
    from mmdense.apis.benchmark.references import build_reference_step
    from mmdense.apis.benchmark.timing import _autocast
    views = [torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    name, step = build_reference_step('deeplabv3_r50_os8', dict(type='ResNet', depth=18), views,
                                      'fp32', 'cpu', _autocast)
    assert 'DeepLabV3' in name and 'OS8' in name
    loss = step()
    assert loss == loss and loss > 0  # finite CE summed over both views
    with pytest.raises(ValueError, match='ResNet-50'):
        build_reference_step('torchvision_resnet50', dict(type='ResNet', depth=18), views,
                             'fp32', 'cpu', _autocast)
    with pytest.raises(ValueError, match='unknown reference'):
        build_reference_step('vgg', dict(type='ResNet', depth=18), views, 'fp32', 'cpu',
                             _autocast)
    result = _tool().main([DEMO, '--stage', 'step', '--batch-size', '2', '--img-size', '32',
                           '--iters', '1', '--warmup', '0', '--precision', 'fp32',
                           '--device', 'cpu', '--threads', '1', '--reference', 'same_backbone',
                           '--reference-views', 'all', '--cfg-options', *NARROW])
    out = capsys.readouterr().out
    run = result['runs'][0]
    assert run['reference_views'] == 'all' and 'all 2 views' in out
    assert [r['key'] for r in run['references']] == ['same_backbone']
    # SlotCon's target is against torchvision's ResNet-50 on the first view: not checked here
    assert run['target']['met'] is None


def test_method_step_targets():
    from mmdense.apis.benchmark.references import default_references, method_step_target
    assert method_step_target(dict(type='MaskContrast'))['reference'] == 'deeplabv3_r50_os8'
    assert method_step_target(dict(type='ViCE'))['views'] == 'all'
    assert method_step_target(dict(type='Unknown')) is None
    r50, r18 = dict(type='ResNet', depth=50), dict(type='ResNet', depth=18)
    assert default_references(r50, method_step_target(dict(type='SlotCon'))) == [
        'same_backbone', 'torchvision_resnet50']
    assert default_references(r18, method_step_target(dict(type='SlotCon'))) == ['same_backbone']
    assert default_references(r50, method_step_target(dict(type='MaskContrast'))) == [
        'same_backbone', 'torchvision_resnet50', 'deeplabv3_r50_os8']


def test_synthetic_batch_carries_the_maps_a_method_reads():
    """MaskContrast reads object masks, ViCE region maps (``view_map_kinds``):
    the synthetic batch carries them, one per view."""
    from mmdense.registry import MODELS
    from mmdense.utils import register_all_modules
    register_all_modules()
    assert MODELS.get('MaskContrast').view_map_kinds(dict(mask_key='sal')) == {'sal': 'objects'}
    assert MODELS.get('ViCE').view_map_kinds({}) == {'superpixels': 'regions'}
    assert MODELS.get('SlotCon').view_map_kinds({}) == {}
    batch = bench.synthetic_view_batch(2, [32, 32], mask_keys=['sal'], region_keys=['sp'])
    maps = batch['data_samples'][0].view_seg_maps
    assert maps['sal'].shape == (2, 32, 32) and maps['sal'].dtype == torch.uint8
    assert set(maps['sal'].unique().tolist()) == {0, 1}
    assert maps['sp'].shape == (2, 32, 32) and len(maps['sp'].unique()) == 4  # 16 px cells
    mixed = bench.synthetic_view_batch(1, [32, 16], region_keys=['sp'])
    assert [m.shape for m in mixed['data_samples'][0].view_seg_maps['sp']] == [(32, 32), (16, 16)]


@pytest.mark.slow
def test_startup_benchmark_runs_one_iteration(tmp_path):
    """benchmark_startup.py times imports, config, runner and one iteration of a
    training run (the demo's config, made tiny) and writes a checkpoint."""
    import subprocess
    import sys
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark_startup.py'),
           DEMO, '--work-dir', str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    for name in ('imports', 'config', 'runner', 'first_iteration', 'total'):
        assert name in out.stdout
    assert osp.isfile(tmp_path / 'iter_1.pth')
