# Copyright (c) mmdense contributors. All rights reserved.
"""What the CPU can do natively, read from ``/proc/cpuinfo``.

bfloat16 autocast is ~2.8x *faster* than float32 for a ResNet-50 on a CPU
with native bf16 instructions (AVX512-BF16 or AMX-BF16), and 10-20x *slower*
on one without (AVX2 only: oneDNN emulates bf16), see SPEC §0. Precision is
therefore chosen per machine: :func:`cpu_native_bf16` is the test that
``CPUAmpOptimWrapper`` and ``tools/analysis_tools/benchmark.py`` use.

``MMDENSE_ASSUME_BF16=1`` / ``=0`` overrides the detection (tests, or a
machine whose ``/proc/cpuinfo`` is not readable).
"""
import os
import platform
from typing import Dict, FrozenSet, Optional

#: environment variable overriding :func:`cpu_native_bf16` ('1' / '0')
ASSUME_BF16_ENV = 'MMDENSE_ASSUME_BF16'
#: x86 flags that decide float32 / bfloat16 speed, in the order they are reported
PRECISION_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile')
#: flags (x86 ``flags``, aarch64 ``Features``) meaning native bf16 arithmetic
NATIVE_BF16_FLAGS = ('avx512_bf16', 'amx_bf16', 'bf16')

CPUINFO = '/proc/cpuinfo'
_TRUE = ('1', 'true', 'yes', 'on')
_FALSE = ('0', 'false', 'no', 'off')


def _read_cpuinfo(path: str = CPUINFO) -> str:
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def cpu_flags(cpuinfo: Optional[str] = None) -> FrozenSet[str]:
    """The feature flags of the first CPU (``flags`` on x86, ``Features`` on
    Arm); empty where ``/proc/cpuinfo`` does not exist.

    Args:
        cpuinfo (str, optional): ``/proc/cpuinfo``'s text (read when None).
    """
    text = _read_cpuinfo() if cpuinfo is None else cpuinfo
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        if sep and key.strip().lower() in ('flags', 'features'):
            return frozenset(value.split())
    return frozenset()


def cpu_model_name(cpuinfo: Optional[str] = None) -> str:
    """The CPU's model name (``/proc/cpuinfo``), else ``platform.processor()``."""
    text = _read_cpuinfo() if cpuinfo is None else cpuinfo
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        if sep and key.strip().lower() in ('model name', 'hardware', 'cpu model'):
            return value.strip()
    return platform.processor() or platform.machine() or 'unknown'


def precision_flags(cpuinfo: Optional[str] = None) -> Dict[str, bool]:
    """``{flag: present}`` for :data:`PRECISION_FLAGS`."""
    flags = cpu_flags(cpuinfo)
    return {name: name in flags for name in PRECISION_FLAGS}


def _env_override() -> Optional[bool]:
    value = os.environ.get(ASSUME_BF16_ENV, '').strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f'{ASSUME_BF16_ENV} must be 0 or 1, got {value!r}')


def cpu_native_bf16(cpuinfo: Optional[str] = None) -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16 on
    x86, BF16 on Arm), i.e. whether bf16 autocast can be faster than fp32.

    ``MMDENSE_ASSUME_BF16=1`` / ``0`` in the environment decides instead.
    Without ``/proc/cpuinfo`` (not Linux), torch's own CPU capability check is
    asked when it has one, else the answer is False.

    Args:
        cpuinfo (str, optional): ``/proc/cpuinfo``'s text (read when None).
    """
    override = _env_override()
    if override is not None:
        return override
    flags = cpu_flags(cpuinfo)
    if flags:
        return any(flag in flags for flag in NATIVE_BF16_FLAGS)
    try:  # pragma: no cover - only where /proc/cpuinfo is missing
        import torch
        checks = [getattr(torch.cpu, name, None) for name in
                  ('_is_avx512_bf16_supported', '_is_amx_tile_supported')]
        return any(bool(check()) for check in checks if check is not None)
    except Exception:  # pragma: no cover
        return False


def bf16_status(cpuinfo: Optional[str] = None) -> str:
    """One line for logs: native or emulated bf16, and why."""
    override = _env_override()
    if override is not None:
        return (f"bf16 {'native' if override else 'emulated'} "
                f'(assumed: {ASSUME_BF16_ENV}={os.environ[ASSUME_BF16_ENV]})')
    flags = cpu_flags(cpuinfo)
    have = [f for f in NATIVE_BF16_FLAGS if f in flags]
    if have:
        return f"bf16 native (CPU flags: {', '.join(have)})"
    return ('bf16 emulated (the CPU has none of avx512_bf16 / amx_bf16: '
            'bf16 runs 10-20x slower than fp32)')
