# Copyright (c) mmdense contributors. All rights reserved.
"""Start-up time of a training run: imports, config, runner, first iteration.

Times, in one fresh process, what a user waits for before the first logged
iteration: importing mmengine / mmdense, reading the config,
``Runner.from_cfg`` and ``runner.train()`` with ``train_cfg.max_iters=1``
(model build and initialisation, dataloader, the first step, the
checkpoint). The target of the performance issue is 20 s for the demo on
2 cores; measured numbers are in ``docs/benchmarks/speed.md``.

    python tools/analysis_tools/benchmark_startup.py \\
        [configs/slotcon/slotcon_resnet18-narrow_1xb32-400iters_synthetic.py] [--work-dir DIR]
"""
import time

_START = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import os.path as osp  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
DEFAULT_CONFIG = osp.join(REPO_ROOT, 'configs', 'slotcon',
                          'slotcon_resnet18-narrow_1xb32-400iters_synthetic.py')


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='time the start-up of a training run')
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', help='where the one-iteration run writes (a temp dir)')
    args = parser.parse_args(argv)

    from mmengine.config import Config
    from mmengine.runner import Runner

    import mmdense  # noqa: F401
    from mmdense.utils import install_checkpoint_safety
    install_checkpoint_safety()  # as tools/train.py does
    t_import = time.perf_counter()
    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir or tempfile.mkdtemp(prefix='mmdense_startup_')
    cfg.launcher = 'none'
    cfg.train_cfg.max_iters = 1
    cfg.train_cfg.val_interval = 2  # no validation: the start-up only
    t_config = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    t_runner = time.perf_counter()
    runner.train()
    t_train = time.perf_counter()
    times = dict(imports=t_import - _START, config=t_config - t_import,
                 runner=t_runner - t_config, first_iteration=t_train - t_runner,
                 total=t_train - _START)
    load = [round(x, 2) for x in os.getloadavg()]
    print(f'start-up of {args.config} (load average {load}):')
    for name, seconds in times.items():
        print(f'  {name:<16} {seconds:6.1f} s')
    print('  first_iteration = model build and initialisation, dataloader, one step, checkpoint')
    return times


if __name__ == '__main__':
    main()
