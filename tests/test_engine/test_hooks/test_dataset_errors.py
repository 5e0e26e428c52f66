# Copyright (c) mmdense contributors. All rights reserved.
"""Dataset-level failures stop training with an error that names the dataset:
a training set whose every file is broken (with ``invalid='skip'``), and one
smaller than a batch with ``drop_last=True``."""
import glob
import json
import os.path as osp
import tempfile

import cv2
import numpy as np
import pytest

PIPELINE = [
    dict(type='RobustLoadImageFromFile', invalid='skip'),
    dict(type='TwoViewRandomResizedCrop', size=48, scale=(0.2, 1.0)),
    dict(type='PackMultiViewInputs'),
]


def _config(tmp_path, folder, **kwargs):
    from tests.harness.reliability import tiny_config
    return tiny_config(
        str(tmp_path / 'cfg.py'), max_iters=4, interval=4,
        train_dataloader=dict(dataset=dict(
            _delete_=True, type='UnlabeledImageDataset', data_root=str(folder),
            img_glob='*.jpg', pipeline=PIPELINE)), **kwargs)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_all_broken_training_set_stops_with_a_clear_error_and_report(tmp_path, monkeypatch):
    from mmdense.datasets.transforms.bad_samples import BAD_SAMPLE_DIR_ENV, AllSamplesInvalidError
    from tests.harness.reliability import train_in_process
    tmp_root = tmp_path / 'tmp'
    tmp_root.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_root))
    monkeypatch.delenv(BAD_SAMPLE_DIR_ENV, raising=False)
    folder = tmp_path / 'images'
    folder.mkdir()
    data = cv2.imencode('.jpg', np.full((64, 64, 3), 100, np.uint8))[1].tobytes()
    broken = {'0.jpg': b'', '1.jpg': b'text, not an image', '2.jpg': data[:len(data) // 2],
              '3.jpg': b'', '4.jpg': b'\xff\xd8\xff'}
    for name, content in broken.items():
        (folder / name).write_bytes(content)
    cfg = _config(tmp_path, folder, num_workers=1,
                  custom_hooks=[dict(type='BadSampleReportHook', interval=1)])
    work = tmp_path / 'work'
    with pytest.raises(AllSamplesInvalidError) as err:
        train_in_process(cfg, work)
    message = str(err.value)
    assert f"UnlabeledImageDataset (image folder '{folder}'" in message, message
    assert 'all 5 of its samples were skipped' in message, message
    assert 'Cannot find valid image' not in message
    # the report is written although training stopped, and the record
    # folder is gone
    report = json.load(open(work / 'bad_samples.json'))
    assert set(report['files']) == {str(folder / name) for name in broken}
    assert glob.glob(str(tmp_root / 'mmdense-*')) == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fewer_images_than_one_batch_is_a_clear_error(tmp_path):
    from mmengine.config import Config
    from tests.harness.reliability import REPO, train_in_process
    runtime = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'default_runtime.py'))
    assert dict(type='TrainDataCheckHook') in runtime.custom_hooks
    folder = tmp_path / 'images'
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f'{i}.jpg'), np.full((64, 64, 3), 50 * i, np.uint8))
    # batch 4, drop_last=True (the demo's loader): not one batch
    cfg = _config(tmp_path, folder, custom_hooks=[dict(type='TrainDataCheckHook')])
    assert Config.fromfile(cfg).train_dataloader.drop_last is True
    with pytest.raises(RuntimeError) as err:
        train_in_process(cfg, tmp_path / 'work')
    message = str(err.value)
    assert f"image folder '{folder}'" in message, message
    assert 'has 3 images, fewer than one batch of 4 with drop_last=True' in message, message
