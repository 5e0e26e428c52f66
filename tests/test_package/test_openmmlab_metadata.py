# Copyright (c) mmdense contributors. All rights reserved.
"""model-index.yml, one metafile per method and the ``.mim`` layout that
OpenMMLab's ``mim`` reads (``mim search mmdense``, ``mim train mmdense CFG``)."""
import os
import os.path as osp

import pytest
import yaml
from mmengine.config import Config

from tests.harness.paths import REPO


def _metafiles():
    index = yaml.safe_load(open(osp.join(REPO, 'model-index.yml')))
    return [osp.join(REPO, path) for path in index['Import']]


def test_every_metafile_lists_existing_configs_with_paper_results():
    metafiles = _metafiles()
    assert metafiles
    for path in metafiles:
        meta = yaml.safe_load(open(path))
        collections = {c['Name']: c for c in meta['Collections']}
        with_results = 0
        for model in meta['Models']:
            assert model['In Collection'] in collections
            config = osp.join(REPO, model['Config'])
            assert osp.isfile(config), config
            assert osp.splitext(osp.basename(config))[0] == model['Name']
            Config.fromfile(config)  # loads
            # a config the paper reports no number for (official defaults, a setting of the
            # paper without a table entry) has no Results; a listed result has metrics
            if 'Results' in model:
                assert model['Results'] and all(r['Metrics'] for r in model['Results'])
                with_results += 1
            assert 'Weights' not in model  # no released weights yet: no links
        assert with_results, f'{path}: no model with the paper\'s results'
        for collection in collections.values():
            assert osp.isfile(osp.join(REPO, collection['README']))


def test_every_paper_config_of_a_method_is_in_its_metafile():
    for path in _metafiles():
        folder = osp.dirname(path)
        listed = {m['Name'] for m in yaml.safe_load(open(path))['Models']}
        method = osp.basename(folder)
        configs = {osp.splitext(n)[0] for n in os.listdir(folder)
                   if n.startswith(method + '_') and n.endswith('.py')
                   and 'synthetic' not in n  # CPU demos have no paper result
                   and 'official-defaults' not in n}  # nor the released-code defaults
        assert configs <= listed, configs - listed


def test_mim_finds_configs_tools_and_the_model_index():
    import mmdense
    mim_dir = osp.join(osp.dirname(mmdense.__file__), '.mim')
    if not osp.isdir(mim_dir):
        pytest.skip('mmdense is not installed with pip (no .mim folder)')
    assert osp.isfile(osp.join(mim_dir, 'model-index.yml'))
    assert osp.isfile(osp.join(mim_dir, 'tools', 'train.py'))
    assert osp.isfile(osp.join(mim_dir, 'configs', 'slotcon',
                               'slotcon_resnet50_8xb64-coslr-800e_coco.py'))
