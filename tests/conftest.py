# Copyright (c) mmdense contributors. All rights reserved.
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


@pytest.fixture(scope='session', autouse=True)
def _register_mmdense():
    from mmdense.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    yield


@pytest.fixture
def repo_root() -> str:
    return REPO_ROOT
