# Copyright (c) mmdense contributors. All rights reserved.
"""``mmdense.X`` resolves from mmseg- and mmdet-scoped configs, and mmseg /
mmdet components resolve from mmdense's scope."""
import pytest
from mmengine.registry import DefaultScope

import mmdense.registry as R


@pytest.mark.parametrize('scope', ['mmseg', 'mmdet'])
def test_mmdense_prefix_resolves_from_sibling_scopes(scope):
    registries = pytest.importorskip(f'{scope}.registry')
    with DefaultScope.overwrite_default_scope(scope):
        assert registries.MODELS.get('mmdense.SlotCon') is R.MODELS.get('SlotCon')
        assert registries.DATASETS.get('mmdense.CocoStuff27Dataset').__name__ == \
            'CocoStuff27Dataset'
        assert registries.TRANSFORMS.get('mmdense.RobustLoadImageFromFile').__name__ == \
            'RobustLoadImageFromFile'
        assert registries.METRICS.get('mmdense.UnsupervisedSegMetric').__name__ == \
            'UnsupervisedSegMetric'


def test_an_mmseg_scoped_config_builds_an_mmdense_component():
    from mmengine.registry import build_from_cfg
    from mmseg.registry import TRANSFORMS
    with DefaultScope.overwrite_default_scope('mmseg'):
        transform = build_from_cfg(dict(type='mmdense.ValidateSegMap', num_classes=3), TRANSFORMS)
    assert type(transform) is R.TRANSFORMS.get('ValidateSegMap')


def test_the_tree_is_unchanged_otherwise():
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    assert R.MODELS.parent is MMPRETRAIN_MODELS
    assert MMPRETRAIN_MODELS._children['mmdense'] is R.MODELS
    assert R.MODELS.get('mmseg.FCNHead').__name__ == 'FCNHead'  # and the other way round
