# Copyright (c) mmdense contributors. All rights reserved.
import pytest
from mmengine.config import Config

from tests.harness.reliability import DEMO


@pytest.fixture
def demo():
    """The CPU demo config, freshly loaded (tests change it)."""
    return Config.fromfile(DEMO)
