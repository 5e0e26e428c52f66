# Copyright (c) mmdense contributors. All rights reserved.
import json
import os

import pytest

from mmdense.datasets.transforms.bad_samples import BAD_SAMPLE_DIR_ENV


@pytest.fixture
def records(tmp_path, monkeypatch):
    """Skips recorded by the transforms, as BadSampleReportHook reads them."""
    folder = tmp_path / 'records'
    folder.mkdir()
    monkeypatch.setenv(BAD_SAMPLE_DIR_ENV, str(folder))

    def read():
        out = []
        for name in os.listdir(folder):
            out += [json.loads(line) for line in open(folder / name)]
        return out
    return read
