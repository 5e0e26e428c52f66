# Copyright (c) mmdense contributors. All rights reserved.
"""The SLIC backend benchmark and the region-pooling benchmark run and report."""
import importlib.util
import os.path as osp

import cv2
import numpy as np

from tests.harness.paths import REPO


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'_{name}', osp.join(REPO, 'tools', 'analysis_tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_superpixels_reports_rate_and_regions(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        img = np.repeat(np.repeat(rng.integers(0, 255, (4, 6, 3), dtype=np.uint8), 16, 0), 16, 1)
        cv2.imwrite(str(tmp_path / f'{i}.png'), img)
    tool = _tool('benchmark_superpixels')
    report = tool.main(
        [str(tmp_path), '--size', '96', '--region-size', '16', '--out', str(tmp_path / 'r.json')])
    assert report['images'] == 2 and osp.isfile(tmp_path / 'r.json')
    sk = report['skimage']
    assert sk['images_per_s_per_core'] > 0
    # 96 x 64 px in 16 px regions: about 24
    assert 8 <= sk['regions_per_image'] <= 60
    # regions follow colour: far more homogeneous than the image as one region
    img = cv2.imread(str(tmp_path / '0.png'))
    whole = tool.colour_spread(img, np.zeros(img.shape[:2], np.int64))
    assert sk['lab_spread_within_regions'] < 0.6 * whole


def test_region_pooling_benchmark_counts_regions():
    report = _tool('benchmark_region_pooling').main(
        ['--batch', '2', '--views', '2', '--dim', '8', '--prototypes', '4', '--size', '16',
         '--regions', '8', '128', '--repeats', '1'])
    assert report['8']['regions_per_batch'] == 8
    assert report['128']['regions_per_batch'] == 128
    assert report['8']['ms_median'] > 0
