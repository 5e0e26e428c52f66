# Copyright (c) mmdense contributors. All rights reserved.
"""The CrOC clustering benchmark runs both Sinkhorn domains and compares them."""
import importlib.util
import json
import os.path as osp

from tests.harness.paths import REPO


def test_clustering_benchmark_reports_both_domains(tmp_path):
    spec = importlib.util.spec_from_file_location(
        '_benchmark_clustering', osp.join(REPO, 'tools', 'analysis_tools',
                                          'benchmark_clustering.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    report = tool.main(['--batch', '2', '--heads', '2', '--dim', '8', '--tokens', '16', '36',
                        '--num-seeds', '4', '--repeats', '1', '--out', str(tmp_path / 'r.json')])
    assert set(report) == {'16x4', '36x4'}
    for row in report.values():
        assert row['log_ms'] > 0 and row['auto_ms'] > 0
        # random tokens: no exact ties, so both domains assign every token alike
        assert row['differ'] == 0.
    assert json.load(open(tmp_path / 'r.json'))['settings']['36x4']['num_seeds'] == 4
