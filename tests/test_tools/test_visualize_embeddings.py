# Copyright (c) mmdense contributors. All rights reserved.
"""tools/analysis_tools/visualize_embeddings.py: PCA-to-RGB PNGs through extract_dense."""
import importlib.util
import os.path as osp

import cv2
import torch

from tests.harness.configs import write_eval_config
from tests.harness.paths import REPO
from tests.harness.vice_tiny import TINY_VICE


def _tool():
    spec = importlib.util.spec_from_file_location(
        '_visualize_embeddings', osp.join(REPO, 'tools', 'analysis_tools',
                                          'visualize_embeddings.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pca_rgb_separates_two_feature_clusters():
    tool = _tool()
    feats = torch.zeros(1, 4, 6, 6)
    feats[0, 0, :, :3] = 1.  # left half one vector, right half another
    feats[0, 1, :, 3:] = 1.
    rgb = tool.pca_rgb(feats)
    assert rgb.shape == (1, 3, 6, 6) and rgb.min() >= 0 and rgb.max() <= 1
    assert not torch.allclose(rgb[0, :, 0, 0], rgb[0, :, 0, 5])
    assert torch.allclose(rgb[0, :, :, :3], rgb[0, :, :1, :1].expand(3, 6, 3))


def test_tool_writes_one_png_per_image_and_a_grid(tmp_path):
    config = write_eval_config(tmp_path, TINY_VICE, num_samples=4, img_size=32, batch_size=2)
    written = _tool().main([config, 'none', '--out', str(tmp_path / 'out'),
                            '--num-images', '3', '--device', 'cpu'])
    assert len(written) == 4
    row = cv2.imread(written[0])
    assert row.shape == (32, 64, 3)  # image | PCA colours
    assert cv2.imread(str(tmp_path / 'out' / 'embeddings.png')) is not None
