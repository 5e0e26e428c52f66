# Copyright (c) mmdense contributors. All rights reserved.
"""Keep freed memory in glibc's heap while a network trains or evaluates on the CPU.

PyTorch caches device memory on CUDA but has no caching allocator for CPU
tensors: each one is a ``malloc``. glibc serves a block above its mmap
threshold (dynamic, at most 32 MiB on 64-bit) with a fresh ``mmap`` and
unmaps it when the tensor is freed, and trims the top of its heap beyond
128 KiB of free space. A training step allocates and frees gigabytes of
activations (SlotCon's ResNet-50 step at batch 16: ~5 GiB), so every step the
kernel maps and zero-fills them anew: page faults, the step's system time.
Measured with ``tools/analysis_tools/benchmark.py --stage step`` on the
SlotCon paper config (2-core AVX2 machine, docs/benchmarks/speed.md): 38 s ->
8-9 s of system time for the run, the SlotCon step 19.2 -> 14.5-15.2 s, the
teacher's no-grad forward (which allocates while the student's activations
are alive) 5.7 -> 3.0 s.

jemalloc / tcmalloc through ``LD_PRELOAD`` solve this too but are not
Python packages and must be set before the process starts; glibc's own
``mallopt`` does it from inside the process, for what is allocated after the
call: no mmap for blocks (``M_MMAP_MAX = 0``), no trimming of the heap top
(``M_TRIM_THRESHOLD = -1``, i.e. never), 64 MiB of padding per heap growth.
The cost: the process keeps its peak memory instead of returning freed
blocks to the system (peak RSS of that run +3 %), and a freed block is a hole
that only a block of at most its size can reuse: blocks of *varying* sizes
freed between small ones that stay can leave hundreds of MiB resident that
glibc would have returned. A training step allocates the same shapes every
step, so training is where it pays; evaluation over images of varying sizes
is where it could cost, so the evaluation tools do not use it.

``tools/train.py``, ``tools/demo.py`` and ``tools/analysis_tools/benchmark.py``
call it when run as scripts (not when their ``main`` is imported) and
``torch.cuda.is_available()`` is False (the benchmark also with ``--device
cpu``); ``MMDENSE_CPU_MALLOC=0`` turns it off. Elsewhere than glibc (macOS,
musl) it does nothing; threads other than the main one keep glibc's
per-thread arenas, which still map large blocks (PyTorch's CPU autograd runs
on the calling thread).
"""
import ctypes
import ctypes.util
import os
import sys
from typing import Callable, Optional

#: environment variable: '0' / 'false' / 'no' / 'off' leaves malloc as it is
CPU_MALLOC_ENV = 'MMDENSE_CPU_MALLOC'

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4
TOP_PAD_BYTES = 64 << 20

_applied = False


def applied() -> bool:
    """Whether :func:`keep_freed_memory` has put its settings in effect."""
    return _applied


def _glibc() -> Optional[ctypes.CDLL]:
    if not sys.platform.startswith('linux'):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        libc.gnu_get_libc_version  # only glibc has it (musl does not)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory(log: Optional[Callable[[str], None]] = print) -> bool:
    """Make glibc keep freed blocks for reuse (see the module docstring).

    Idempotent; applies to allocations made after the call (and to forked
    dataloader workers, which inherit the setting).

    Args:
        log (callable, optional): receives one line saying what was done
            (the first time only); None for silence.

    Returns:
        bool: whether the settings are in effect.
    """
    global _applied
    if _applied:
        return True
    if os.environ.get(CPU_MALLOC_ENV, '1').strip().lower() in ('0', 'false', 'no', 'off'):
        return False
    libc = _glibc()
    if libc is None:
        return False
    done = all(libc.mallopt(param, value) == 1 for param, value in (
        (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, -1), (M_TOP_PAD, TOP_PAD_BYTES)))
    _applied = done
    if done and log is not None:
        log(f'[mmdense] CPU run: glibc malloc keeps freed memory for reuse (no mmap per '
            f'tensor, no heap trimming; {CPU_MALLOC_ENV}=0 turns it off)')
    return done


def keep_freed_memory_without_cuda(log: Optional[Callable[[str], None]] = print) -> bool:
    """:func:`keep_freed_memory` when this process has no CUDA device to run on.

    Returns:
        bool: whether the settings are in effect.
    """
    import torch
    if torch.cuda.is_available():
        return False
    return keep_freed_memory(log)
