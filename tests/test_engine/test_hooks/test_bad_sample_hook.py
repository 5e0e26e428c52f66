# Copyright (c) mmdense contributors. All rights reserved.
"""Training on a folder where 5 % of the files are broken: with
``invalid='skip'`` the run completes and reports exactly those files, once
each, although they are met in a dataloader worker."""
import json
import os.path as osp
import re

import cv2
import numpy as np
import pytest


@pytest.mark.slow
def test_training_skips_and_reports_broken_files(tmp_path):
    from tests.harness.reliability import tiny_config, train_in_process
    folder = tmp_path / 'images'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        img = rng.integers(0, 256, (72, 80, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f'{i:02d}.jpg'), img)
    broken = {folder / '07.jpg': 'truncated JPEG', folder / '23.jpg': 'empty (0-byte) file'}
    data = (folder / '07.jpg').read_bytes()
    (folder / '07.jpg').write_bytes(data[:len(data) // 2])
    (folder / '23.jpg').write_bytes(b'')

    pipeline = [
        dict(type='RobustLoadImageFromFile', invalid='skip'),
        dict(type='TwoViewRandomResizedCrop', size=48, scale=(0.2, 1.0)),
        dict(type='PackMultiViewInputs'),
    ]
    # 40 images / batch 4 = 10 iterations: one epoch sees every file
    cfg = tiny_config(
        str(tmp_path / 'cfg.py'), num_workers=1, max_iters=10, interval=10,
        custom_hooks=[dict(type='BadSampleReportHook', interval=2)],
        train_dataloader=dict(dataset=dict(
            _delete_=True, type='UnlabeledImageDataset', data_root=str(folder),
            img_glob='*.jpg', pipeline=pipeline)))
    work = tmp_path / 'work'
    log = train_in_process(cfg, work)
    assert 'Iter(train) [10/10]' in log
    report = json.load(open(work / 'bad_samples.json'))
    assert set(report['files']) == {str(p) for p in broken}
    for path, reason in broken.items():
        assert reason in report['files'][str(path)]['reason']
        # warned once per file, with its path and reason
        assert len(re.findall(rf'Skipped image {re.escape(str(path))}: ', log)) == 1, log[-3000:]
    assert re.search(r'\d+ samples skipped; 2 distinct unreadable files', log)
    assert osp.isfile(work / 'iter_10.pth')


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_killed_run_leaves_no_temporary_folder(tmp_path, monkeypatch):
    """A SIGKILLed run cannot clean up: its record folder in the temp folder
    names its process, and the next run's hook removes it."""
    import os
    import tempfile
    from mmdense.datasets.transforms.bad_samples import BAD_SAMPLE_DIR_ENV
    from mmdense.engine.hooks.bad_sample_hook import BadSampleReportHook
    from tests.harness.reliability import sigkill, start_train, tiny_config, wait_for
    tmp_root = tmp_path / 'tmp'
    tmp_root.mkdir()

    def ours():
        return sorted(n for n in os.listdir(tmp_root) if n.startswith('mmdense-'))

    marker = tmp_path / 'at_2'
    cfg = tiny_config(str(tmp_path / 'cfg.py'), max_iters=8, interval=8, custom_hooks=[
        dict(type='BadSampleReportHook'), dict(type='GateHook', at=2, marker=str(marker))])
    monkeypatch.setenv('TMPDIR', str(tmp_root))  # inherited by the training process
    proc = start_train(cfg, tmp_path / 'work')
    try:
        wait_for(str(marker), proc)
        (left, ) = ours()
    finally:
        sigkill(proc)
    assert left.startswith(f'mmdense-bad-samples-{proc.pid}-'), left
    assert ours() == [left]  # killed: nothing could run
    # the next run's hook removes it (the folders of live processes stay)
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_root))
    monkeypatch.delenv(BAD_SAMPLE_DIR_ENV, raising=False)
    hook = BadSampleReportHook()
    other = BadSampleReportHook()
    assert ours() == sorted([osp.basename(hook.record_dir), osp.basename(other.record_dir)])
    other.cleanup()
    assert ours() == [osp.basename(hook.record_dir)]
    del hook  # garbage-collected: its folder goes too
    import gc
    gc.collect()
    assert ours() == []
    assert BAD_SAMPLE_DIR_ENV not in os.environ
