# Copyright (c) mmdense contributors. All rights reserved.
"""tools/dataset_converters/make_superpixels.py: one compressed file per image,
resumable, bad images reported; the transform reads what it wrote."""
import importlib.util
import os
import os.path as osp

import cv2
import numpy as np

from mmdense.datasets.transforms import Superpixels

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        '_make_superpixels', osp.join(REPO, 'tools', 'dataset_converters', 'make_superpixels.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_converter_writes_resumes_and_reports(tmp_path, capsys):
    rng = np.random.default_rng(0)
    img_dir = tmp_path / 'images'
    for name in ('a/one.jpg', 'b/two.png', 'three.jpg'):
        os.makedirs(osp.dirname(img_dir / name), exist_ok=True)
        img = np.repeat(np.repeat(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8), 8, 0), 8, 1)
        cv2.imwrite(str(img_dir / name), img)
    (img_dir / 'broken.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    out = tmp_path / 'sp'
    tool = _tool()
    assert tool.main([str(img_dir), str(out), '--region-size', '8']) == 1  # broken.jpg failed
    err = capsys.readouterr().err
    assert 'broken.jpg' in err
    files = sorted(str(p.relative_to(out)) for p in out.rglob('*.npz'))
    assert files == ['a/one.npz', 'b/two.npz', 'three.npz']
    # the transform reads them (no SLIC online) and they match the images
    t = Superpixels(region_size=8, cache_dir=str(out), img_root=str(img_dir))
    img = cv2.imread(str(img_dir / 'a' / 'one.jpg'))
    res = t(dict(img=img, img_path=str(img_dir / 'a' / 'one.jpg')))
    assert np.array_equal(res['superpixels'], t.compute(img))
    # resumable: done files are skipped, a missing one is redone
    os.remove(out / 'three.npz')
    stamp = os.stat(out / 'a' / 'one.npz').st_mtime_ns
    tool.main([str(img_dir), str(out), '--region-size', '8'])
    assert '2 already done, 2 to go' in capsys.readouterr().out  # three + broken
    assert (out / 'three.npz').is_file()
    assert os.stat(out / 'a' / 'one.npz').st_mtime_ns == stamp
    assert not list(out.rglob('*.tmp*'))
