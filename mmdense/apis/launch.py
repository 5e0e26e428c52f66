# Copyright (c) mmdense contributors. All rights reserved.
"""Distributed launch on machines without CUDA (``tools/dist_train.sh CFG N``)."""
import os

import torch
import torch.distributed as torch_dist


def prepare_cpu_distributed(cfg) -> bool:
    """Make ``--launcher pytorch`` work on a CPU-only machine.

    Three obstacles in mmengine 0.10.7 on such a machine: the paper configs
    ask for NCCL (``env_cfg.dist_cfg.backend``), which needs CUDA;
    ``mmengine.dist.init_dist('pytorch')`` calls ``torch.cuda.set_device``
    whatever the backend ("Found no NVIDIA driver"); and the Runner wraps the
    model in DDP with ``device_ids=[LOCAL_RANK]``, which DDP refuses for a
    CPU module. So without CUDA the backend becomes gloo (logged once), the
    process group is initialised here from torchrun's environment (``RANK``,
    ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``; the Runner then skips
    its own ``init_dist``) and ``model_wrapper_cfg.device_ids`` is set to
    None (kept if the config sets it). With CUDA, or without a launcher,
    nothing changes.

    Args:
        cfg (mmengine.Config): the merged config (``cfg.launcher`` set).

    Returns:
        bool: whether this function initialised the process group.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return False
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print(f"[mmdense] no CUDA device: distributed backend {dist_cfg.get('backend', 'nccl')} "
              '-> gloo', flush=True)
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:  # what the Runner builds without one, minus the device ids
        wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                       find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.setdefault('device_ids', None)  # a CPU module: DDP takes no device ids
    cfg.model_wrapper_cfg = wrapper
    if torch_dist.is_initialized():
        return False
    torch_dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                  world_size=int(os.environ['WORLD_SIZE']))
    return True
