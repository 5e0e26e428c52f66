# Copyright (c) mmdense contributors. All rights reserved.
"""Where things are, for tests at any folder depth."""
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[2])
TEST_DATA = str(Path(REPO) / 'tests' / 'data')
#: the small real COCO subset beside the checkout (absent on a bare clone)
COCO_TINY = str(Path(REPO).parent / 'shared' / 'data' / 'coco_tiny')
DEMO_CONFIG = str(Path(REPO) / 'configs' / 'slotcon' /
                  'slotcon_resnet18-narrow_1xb32-400iters_synthetic.py')
